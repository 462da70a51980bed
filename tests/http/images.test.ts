import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "parse5";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Article } from "../../src/article.ts";
import {
  CONTENT_SIZES,
  createImageMeasure,
  type MeasureImage,
  responsiveAttributes,
  responsiveContent,
  scrollableTables,
} from "../../src/http/images.ts";
import { type PageSite, renderArticlePage, renderHomePage } from "../../src/http/pages.ts";
import { stylesheet } from "../../src/http/style.ts";
import { isParsed, parseArticle } from "../../src/source/parse.ts";
import { makeArticle, origin } from "../helpers/article-fixture.ts";

interface Element {
  readonly tagName: string;
  readonly attrs: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly childNodes?: readonly Element[];
}

/** Every element of a page, by a real HTML parser. */
function elements(page: string, tag: string): Element[] {
  const found: Element[] = [];
  const walk = (node: Element) => {
    if (node.tagName === tag) found.push(node);
    for (const child of node.childNodes ?? []) walk(child);
  };
  walk(parse(page) as unknown as Element);
  return found;
}

function attrs(element: Element | undefined): Record<string, string> {
  return Object.fromEntries((element?.attrs ?? []).map((a) => [a.name, a.value]));
}

function meta(page: string, key: string): string | undefined {
  const found = elements(page, "meta").find((m) => attrs(m).property === key);
  return found === undefined ? undefined : attrs(found).content;
}

let folder: string;
let measure: MeasureImage;
let site: PageSite;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "herald-images-"));
  mkdirSync(join(folder, "news"));
  const photo = (width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: "#3a6b8c" } });
  await photo(1600, 900)
    .jpeg()
    .toFile(join(folder, "news", "vote.jpg"));
  await photo(700, 500)
    .png()
    .toFile(join(folder, "news", "small photo.png"));
  // Stored sideways, shown upright: EXIF orientation 6 turns it a quarter.
  await photo(1200, 800).withMetadata({ orientation: 6 }).jpeg().toFile(join(folder, "turned.jpg"));
  measure = createImageMeasure(folder);
  site = {
    origin,
    title: "Herald News",
    language: "en",
    handle: "@news@news.test",
    measureImage: measure,
  };
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** An article as the parser makes it, published. */
function article(path: string, text: string, overrides: Partial<Article> = {}): Article {
  const parsed = parseArticle(path, new TextEncoder().encode(text), { defaultLanguage: "en" });
  if (!isParsed(parsed)) throw new Error(parsed.reason);
  const { title, summary, contentHtml, language, tags, image } = parsed;
  // The fixture's own image goes: only the file's, if any, stays.
  const { image: _, ...fixture } = makeArticle({ title, summary, contentHtml, language, tags });
  return { ...fixture, path, ...(image ? { image } : {}), ...overrides };
}

const inlineOnly = `---
title: The vote
---
The members voted late on Thursday.

![The members voting](vote.jpg "The final vote | Photo: AP")
`;

describe("createImageMeasure()", () => {
  it("reads the width and height from the file's header, upright", () => {
    expect(measure("news/vote.jpg")).toEqual({ width: 1600, height: 900 });
    expect(measure("news/small photo.png")).toEqual({ width: 700, height: 500 });
    expect(measure("turned.jpg")).toEqual({ width: 800, height: 1200 });
  });

  it("knows nothing of missing files, non-images and paths out of the folder", async () => {
    expect(measure("news/missing.jpg")).toBeUndefined();
    expect(measure("../etc/passwd")).toBeUndefined();
    expect(measure("news")).toBeUndefined();
    writeFileSync(join(folder, "not-an-image.png"), "hello");
    expect(measure("not-an-image.png")).toBeUndefined();
    // A link to an image outside: `/media/` would not serve it, so the page does not size it.
    const outside = mkdtempSync(join(tmpdir(), "herald-outside-"));
    try {
      await sharp({ create: { width: 50, height: 50, channels: 3, background: "#000" } })
        .png()
        .toFile(join(outside, "secret.png"));
      symlinkSync(join(outside, "secret.png"), join(folder, "linked.png"));
      expect(measure("linked.png")).toBeUndefined();
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("measures a replaced image again", async () => {
    await sharp({ create: { width: 300, height: 300, channels: 3, background: "#000" } })
      .png()
      .toFile(join(folder, "replaced.png"));
    expect(measure("replaced.png")).toEqual({ width: 300, height: 300 });
    await sharp({ create: { width: 500, height: 200, channels: 3, background: "#000" } })
      .png()
      .toFile(join(folder, "replaced.png"));
    expect(measure("replaced.png")).toEqual({ width: 500, height: 200 });
  });
});

describe("responsiveAttributes()", () => {
  it("lists the copies narrower than the image, then the image at its own width", () => {
    expect(responsiveAttributes("/media/news/vote.jpg", origin, CONTENT_SIZES, measure)).toEqual({
      srcset:
        "/media/news/vote.jpg?w=320 320w, /media/news/vote.jpg?w=640 640w, /media/news/vote.jpg?w=960 960w, /media/news/vote.jpg?w=1280 1280w, /media/news/vote.jpg 1600w",
      sizes: CONTENT_SIZES,
      width: 1600,
      height: 900,
    });
    expect(
      responsiveAttributes(
        "https://news.test/media/news/small%20photo.png",
        origin,
        "7rem",
        measure,
      ).srcset,
    ).toBe(
      "https://news.test/media/news/small%20photo.png?w=320 320w, https://news.test/media/news/small%20photo.png?w=640 640w, https://news.test/media/news/small%20photo.png 700w",
    );
  });

  it("adds nothing to other sites' images, sized copies or unknown files", () => {
    for (const src of [
      "https://elsewhere.test/media/news/vote.jpg",
      "/media/news/vote.jpg?w=640",
      "/media/news/missing.jpg",
      "/media/news/logo.svg",
    ]) {
      expect(responsiveAttributes(src, origin, CONTENT_SIZES, measure)).toEqual({});
    }
  });
});

describe("responsiveContent() and scrollableTables()", () => {
  it("gives inline images srcset, sizes, width, height and lazy loading", () => {
    const out = responsiveContent(
      '<p><img src="/media/news/vote.jpg" alt="A"> <img src="https://elsewhere.test/x.jpg" alt="B" /></p>',
      origin,
      measure,
    );
    const [own, other] = elements(out, "img").map(attrs);
    expect(own).toMatchObject({
      src: "/media/news/vote.jpg",
      width: "1600",
      height: "900",
      sizes: CONTENT_SIZES,
      loading: "lazy",
      decoding: "async",
    });
    expect(own?.srcset).toContain("/media/news/vote.jpg?w=640 640w");
    expect(other).toEqual({
      src: "https://elsewhere.test/x.jpg",
      alt: "B",
      loading: "lazy",
      decoding: "async",
    });
  });

  it("keeps a size written in raw HTML", () => {
    const out = responsiveContent(
      '<img src="/media/news/vote.jpg" width="400" loading="eager">',
      origin,
      measure,
    );
    expect(attrs(elements(out, "img")[0])).toMatchObject({
      width: "400",
      height: "900",
      loading: "eager",
    });
  });

  it("wraps each table in a named, focusable region that scrolls", () => {
    const out = scrollableTables("<table><tr><td>1</td></tr></table><table></table>", 'A "T"');
    const regions = elements(out, "div").map(attrs);
    expect(regions).toEqual([
      { class: "table-scroll", tabindex: "0", role: "region", "aria-label": 'A "T"' },
      { class: "table-scroll", tabindex: "0", role: "region", "aria-label": 'A "T"' },
    ]);
    expect(stylesheet).toMatch(/\.table-scroll \{ overflow-x: auto;/);
  });
});

describe("an article with only an inline image (issue #15.3)", () => {
  it("takes it as its card image, with its alt text, and shows it once, as a figure", () => {
    const page = renderArticlePage(site, article("news/vote.md", inlineOnly));
    expect(meta(page, "og:image")).toBe("https://news.test/media/news/vote.jpg?w=1600");
    expect(meta(page, "og:image:alt")).toBe("The members voting");
    expect(elements(page, "meta").some((m) => attrs(m).content === "summary_large_image")).toBe(
      true,
    );
    expect(elements(page, "img")).toHaveLength(1);
    expect(elements(page, "figure").map((f) => attrs(f).class)).toEqual([undefined]);
    expect(page).toContain('"image":["https://news.test/media/news/vote.jpg?w=1600"]');
    expect(elements(page, "figcaption")).toHaveLength(1);
    expect(elements(page, "small").map(attrs)).toEqual([{ class: "credit" }]);
  });

  it("gets a home page thumbnail like an article with a front-matter image", () => {
    const inline = article("news/vote.md", inlineOnly, { id: "a1", slug: "vote" });
    const lead = article(
      "news/lead.md",
      "---\ntitle: Lead\nimage: { src: small photo.png, alt: Ignored here }\n---\nText.\n",
      { id: "a2", slug: "lead" },
    );
    const thumbs = elements(renderHomePage(site, [inline, lead]), "img").map(attrs);
    expect(thumbs).toEqual([
      {
        class: "thumb",
        src: "https://news.test/media/news/vote.jpg?w=1600",
        alt: "",
        srcset: expect.stringContaining("https://news.test/media/news/vote.jpg?w=320 320w"),
        sizes: "7rem",
        width: "1600",
        height: "900",
        loading: "lazy",
        decoding: "async",
      },
      expect.objectContaining({
        class: "thumb",
        src: "https://news.test/media/news/small%20photo.png?w=1600",
        width: "700",
        height: "500",
      }),
    ]);
    expect(stylesheet).toMatch(/\.card \.thumb \{[^}]*width: 7rem/);
    // CONTENT_SIZES says what the stylesheet does: a body of 42rem at most, 1rem padding.
    expect(stylesheet).toMatch(/body \{[^}]*padding: 0 1rem 2rem;[^}]*max-width: 42rem;/);
    expect(CONTENT_SIZES).toBe("(min-width: 42rem) 40rem, calc(100vw - 2rem)");
  });
});

describe("an article with a front-matter image", () => {
  const text = `---
title: The vote
image: { src: vote.jpg, alt: The chamber }
---
Text.

![Another picture](<small photo.png>)
`;

  it("leads with it, eagerly, and lazily loads the images in its text", () => {
    const page = renderArticlePage(site, article("news/vote.md", text));
    const [lead, inline] = elements(page, "img").map(attrs);
    expect(lead).toMatchObject({
      src: "https://news.test/media/news/vote.jpg?w=1600",
      alt: "The chamber",
      sizes: CONTENT_SIZES,
      width: "1600",
      height: "900",
      fetchpriority: "high",
    });
    expect(lead?.srcset?.split(", ").at(-1)).toBe("https://news.test/media/news/vote.jpg 1600w");
    expect(lead?.loading).toBeUndefined();
    expect(inline).toMatchObject({ loading: "lazy", width: "700", height: "500" });
    expect(meta(page, "og:image")).toBe("https://news.test/media/news/vote.jpg?w=1600");
    expect(meta(page, "og:image:alt")).toBe("The chamber");
  });

  it("shows the front matter caption and credit under the lead image", () => {
    const page = renderArticlePage(
      site,
      article(
        "news/vote.md",
        "---\ntitle: T\nimage: { src: vote.jpg, alt: A, caption: The final vote, credit: 'Photo: AP' }\n---\nText.\n",
      ),
    );
    const [figure] = elements(page, "figure");
    expect(attrs(figure).class).toBe("lead-image");
    expect(elements(page, "figcaption")).toHaveLength(1);
    expect(page).toContain(
      '<figcaption>The final vote <small class="credit">Photo: AP</small></figcaption></figure>',
    );
  });

  it("keeps pages without a measure as they were: no srcset, still lazy", () => {
    const { measureImage: _, ...unmeasured } = site;
    const page = renderArticlePage(unmeasured, article("news/vote.md", text));
    const [lead, inline] = elements(page, "img").map(attrs);
    expect(lead?.srcset).toBeUndefined();
    expect(inline?.loading).toBe("lazy");
  });
});
