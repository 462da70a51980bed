import { parse } from "parse5";
import { describe, expect, it } from "vitest";
import {
  formatDateTime,
  type PageSite,
  REPLIES_PER_PAGE,
  renderArticlePage,
  renderGonePage,
  renderHomePage,
  renderNotFoundPage,
  renderTagPage,
} from "../../src/http/pages.ts";
import { stylesheet } from "../../src/http/style.ts";
import type { Interaction } from "../../src/interactions.ts";
import { labelsFor, predominantLanguage } from "../../src/labels.ts";
import { EDITED, makeArticle, origin, PUBLISHED } from "../helpers/article-fixture.ts";

const site: PageSite = {
  origin,
  title: "Herald News",
  description: "News from the test suite.",
  language: "en",
  handle: "@news@news.test",
  actor: new URL("https://news.test/users/news"),
};

interface Element {
  readonly tagName: string;
  readonly attrs: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly childNodes?: readonly Node[];
}
type Node =
  | Element
  | { readonly nodeName: string; readonly value?: string; readonly childNodes?: readonly Node[] };

/** Every element of a page, parsed by parse5 (a real HTML parser). */
function elements(page: string): Element[] {
  const found: Element[] = [];
  const walk = (node: Node) => {
    if ("tagName" in node) found.push(node);
    for (const child of node.childNodes ?? []) walk(child);
  };
  walk(parse(page) as unknown as Node);
  return found;
}

function attr(element: Element | undefined, name: string): string | undefined {
  return element?.attrs.find((a) => a.name === name)?.value;
}

function text(node: Node): string {
  if ("value" in node && node.nodeName === "#text") return node.value ?? "";
  return (node.childNodes ?? []).map(text).join("");
}

function byTag(page: string, tag: string): Element[] {
  return elements(page).filter((e) => e.tagName === tag);
}

function alternates(page: string): Record<string, string | undefined> {
  const links = byTag(page, "link").filter((l) => attr(l, "rel") === "alternate");
  return Object.fromEntries(links.map((l) => [attr(l, "type") ?? "", attr(l, "href")]));
}

function meta(page: string, key: string): string[] {
  return byTag(page, "meta")
    .filter((m) => attr(m, "name") === key || attr(m, "property") === key)
    .map((m) => attr(m, "content") ?? "");
}

/**
 * What any page must be: landmarks, one h1, viewport, stylesheet, no scripts (JSON-LD data
 * blocks are not run) or inline styles.
 */
function expectSoundPage(page: string) {
  const all = elements(page);
  expect(all.filter((e) => e.tagName === "main")).toHaveLength(1);
  expect(all.filter((e) => e.tagName === "h1")).toHaveLength(1);
  expect(all.some((e) => e.tagName === "header")).toBe(true);
  expect(all.some((e) => e.tagName === "footer")).toBe(true);
  expect(meta(page, "viewport")).toEqual(["width=device-width, initial-scale=1"]);
  expect(byTag(page, "link").some((l) => attr(l, "rel") === "stylesheet")).toBe(true);
  expect(all.filter((e) => e.tagName === "style")).toEqual([]);
  expect(runnable(page)).toEqual([]);
  expect(
    all.filter((e) => e.attrs.some((a) => a.name === "style" || a.name.startsWith("on"))),
  ).toEqual([]);
  expect(page.startsWith("<!doctype html>")).toBe(true);
}

function runnable(page: string): Element[] {
  return byTag(page, "script").filter((s) => attr(s, "type") !== "application/ld+json");
}

describe("renderHomePage()", () => {
  const articles = [
    makeArticle({ id: "b", slug: "second", title: "Second & last", language: "de" }),
    makeArticle({ id: "a", slug: "first", title: "First", language: "en" }),
  ];
  const page = renderHomePage(site, articles);

  it("is a sound page in the site's language", () => {
    expectSoundPage(page);
    expect(attr(byTag(page, "html")[0], "lang")).toBe("en");
  });

  it("links RSS, Atom and JSON Feed for autodiscovery with absolute URLs", () => {
    expect(alternates(page)).toMatchObject({
      "application/rss+xml": "https://news.test/feed.xml",
      "application/atom+xml": "https://news.test/atom.xml",
      "application/feed+json": "https://news.test/feed.json",
      "application/activity+json": "https://news.test/users/news",
    });
  });

  it("lists the articles with title, date and summary", () => {
    const cards = byTag(page, "article");
    expect(cards.map((card) => text(byTagIn(card, "a")[0] ?? card))).toEqual([
      "Second & last",
      "First",
    ]);
    expect(attr(cards[0], "lang")).toBe("de");
    expect(attr(cards[1], "lang")).toBeUndefined();
    expect(byTagIn(cards[0] as Element, "time").map((t) => attr(t, "datetime"))).toEqual([
      PUBLISHED.toISOString(),
    ]);
    expect(text(cards[0] as Element)).toContain(articles[0]?.summary);
  });

  it("shows the fediverse handle and how to follow it from Mastodon", () => {
    const follow = elements(page).find((e) => attr(e, "class") === "follow");
    expect(follow).toBeDefined();
    expect(text(follow as Element)).toContain("@news@news.test");
    expect(text(follow as Element)).toMatch(/Mastodon.*search/s);
  });

  it("sends new followers to the new account once the account has moved", () => {
    const moved = renderHomePage(
      { ...site, movedTo: new URL("https://new.test/users/news") },
      articles,
    );
    expectSoundPage(moved);
    const follow = elements(moved).find((e) => attr(e, "class") === "follow") as Element;
    expect(text(follow)).toContain("has moved to https://new.test/users/news");
    expect(byTagIn(follow, "a").map((a) => attr(a, "href"))).toContain(
      "https://new.test/users/news",
    );
    expect(text(follow)).not.toContain("copy the handle");
    expect(text(follow)).toContain("feed reader");
  });
});

function byTagIn(root: Element, tag: string): Element[] {
  const found: Element[] = [];
  const walk = (node: Node) => {
    if ("tagName" in node && node.tagName === tag) found.push(node);
    for (const child of node.childNodes ?? []) walk(child);
  };
  walk(root);
  return found;
}

describe("renderArticlePage()", () => {
  const article = makeArticle({
    id: "obj-1",
    slug: "grüße",
    title: "Grüße <script>alert(1)</script> & mehr",
    summary: "Eine Zusammenfassung.",
    contentHtml: "<p>Der <strong>volle</strong> Text.</p>",
    language: "de",
    tags: ["Politik", "R&D"],
    image: { src: "bilder/foto.jpg", alt: "Ein Foto" },
    author: "Anna",
    updated: EDITED,
  });
  const page = renderArticlePage(site, article);

  it("is a sound page in the article's language", () => {
    expectSoundPage(page);
    expect(attr(byTag(page, "html")[0], "lang")).toBe("de");
    // The frame's words are the site's (English) ones.
    const header = byTag(page, "header").find((h) => attr(h, "class") === "site-header");
    expect(attr(header, "lang")).toBe("en");
  });

  it("escapes the title and includes the full content", () => {
    expect(text(byTag(page, "h1")[0] as Element)).toBe(article.title);
    expect(runnable(page)).toEqual([]);
    expect(byTag(page, "script")).toHaveLength(1); // the JSON-LD, the title inside it escaped
    expect(text(byTag(page, "strong")[0] as Element)).toBe("volle");
  });

  it("names its canonical URL, object, feeds and fediverse creator", () => {
    const canonical = byTag(page, "link").find((l) => attr(l, "rel") === "canonical");
    expect(attr(canonical, "href")).toBe("https://news.test/articles/gr%C3%BC%C3%9Fe");
    expect(alternates(page)).toMatchObject({
      "application/activity+json": "https://news.test/objects/obj-1",
      "application/rss+xml": "https://news.test/feed.xml",
    });
    expect(meta(page, "fediverse:creator")).toEqual(["@news@news.test"]);
  });

  it("names the author's own fediverse account first, then the site's (#18.1)", () => {
    const byJane = makeArticle({ author: "Jane Doe", authorFediverse: "@jane@example.social" });
    expect(meta(renderArticlePage(site, byJane), "fediverse:creator")).toEqual([
      "@jane@example.social",
      "@news@news.test",
    ]);
  });

  it("has Open Graph tags with an absolute image", () => {
    expect(meta(page, "og:type")).toEqual(["article"]);
    expect(meta(page, "og:title")).toEqual([article.title]);
    expect(meta(page, "og:url")).toEqual(["https://news.test/articles/gr%C3%BC%C3%9Fe"]);
    expect(meta(page, "og:image")).toEqual(["https://news.test/media/bilder/foto.jpg?w=1600"]);
    expect(meta(page, "og:image:alt")).toEqual(["Ein Foto"]);
    expect(meta(page, "article:tag")).toEqual(["Politik", "R&D"]);
    expect(meta(page, "article:published_time")).toEqual([PUBLISHED.toISOString()]);
  });

  it("links its tags to the tag pages and marks up its dates", () => {
    const tagLinks = byTag(page, "a").filter((a) => attr(a, "rel") === "tag");
    expect(tagLinks.map((a) => attr(a, "href"))).toEqual([
      "https://news.test/tags/Politik",
      "https://news.test/tags/R%26D",
    ]);
    expect(byTag(page, "time").map((t) => attr(t, "datetime"))).toEqual([
      PUBLISHED.toISOString(),
      EDITED.toISOString(),
    ]);
    const img = byTag(page, "img")[0];
    expect(attr(img, "alt")).toBe("Ein Foto");
  });
});

describe("dates on pages", () => {
  // 13:30 UTC is 14:30 in Berlin in December.
  const published = new Date("2026-12-05T13:30:00Z");
  const berlin: PageSite = { ...site, language: "de", timeZone: "Europe/Berlin" };
  const dateLine = (page: string) => /<p class="meta"[^>]*>(.*?)<\/p>/.exec(page)?.[1] ?? "";

  it("show the time of day in the site's time zone and locale", () => {
    expect(formatDateTime(published, "de", "Europe/Berlin")).toBe("5. Dezember 2026, 14:30");
    expect(formatDateTime(published, "en", "America/New_York")).toBe("December 5, 2026, 8:30 AM");
    const page = renderArticlePage(berlin, makeArticle({ published, updated: published }));
    expect(dateLine(page)).toBe(
      'Veröffentlicht am <time datetime="2026-12-05T13:30:00.000Z">5. Dezember 2026, 14:30</time>',
    );
  });

  it('say "updated" only for an edit more than a few minutes later, with its time', () => {
    const soon = new Date(published.getTime() + 4 * 60_000);
    const later = new Date(published.getTime() + 3 * 3_600_000);
    expect(
      dateLine(renderArticlePage(berlin, makeArticle({ published, updated: soon }))),
    ).not.toContain("aktualisiert");
    expect(
      dateLine(renderArticlePage(berlin, makeArticle({ published, updated: later }))),
    ).toContain(
      ', aktualisiert am <time datetime="2026-12-05T16:30:00.000Z">5. Dezember 2026, 17:30</time>',
    );
  });
});

describe("the page frame's language", () => {
  it("is the predominant language of the articles, the newer one on a tie", () => {
    const of = (...languages: string[]) =>
      predominantLanguage(languages.map((language) => makeArticle({ language })));
    expect(of("de", "en", "de")).toBe("de");
    expect(of("en", "de")).toBe("en");
    expect(of()).toBeUndefined();
  });

  it("has German and English labels, English for any other language", () => {
    expect(labelsFor("de-AT").latest).toBe("Neueste Artikel");
    expect(labelsFor("en-GB").latest).toBe("Latest articles");
    expect(labelsFor("constructor").lang).toBe("en");
  });

  it("gives the home page a tagline in the site's language when none is configured", () => {
    const page = renderHomePage({ ...site, description: undefined, language: "de" }, []);
    expect(page).toContain(`<p class="lede">${labelsFor("de").tagline}</p>`);
  });
});

describe("renderArticlePage() with replies", () => {
  const article = makeArticle({ slug: "story" });
  const reply = (n: number, contentHtml = `<p>Reply ${n}</p>`): Interaction => ({
    kind: "reply",
    id: `https://social.test/users/u${n}/statuses/${n}`,
    actor: { id: `https://social.test/users/u${n}`, name: `U ${n}`, handle: `@u${n}@social.test` },
    url: `https://social.test/@u${n}/${n}`,
    contentHtml,
    published: "2026-11-29T08:00:00.000Z",
  });
  const counts = { replies: 120, likes: 3, boosts: 0, quotes: 0 };
  const replies = Array.from({ length: REPLIES_PER_PAGE }, (_, i) => reply(i));

  it("shows the page of replies it is given, and links the newer and older pages", () => {
    const page = renderArticlePage(site, article, { counts, replies, page: 2, pages: 3 });
    expectSoundPage(page);
    expect(byTag(page, "li").filter((li) => attr(li, "class") === "reply")).toHaveLength(50);
    expect(page).toContain("120 replies · 3 likes · 0 boosts");
    const links = byTag(page, "a").filter((a) => ["prev", "next"].includes(attr(a, "rel") ?? ""));
    expect(links.map((a) => [attr(a, "rel"), attr(a, "href")])).toEqual([
      ["prev", "https://news.test/articles/story"],
      ["next", "https://news.test/articles/story?replies=3"],
    ]);
    // Only the first page is the one to index.
    expect(meta(page, "robots")).toEqual(["noindex"]);
    const first = renderArticlePage(site, article, { counts, replies, page: 1, pages: 3 });
    expect(meta(first, "robots")).toEqual([]);
  });

  it("shows a long reply as the start of its text, linked to the whole", () => {
    const long = reply(7, `<p>${'Word &amp; <a href="https://x.test/">link</a> '.repeat(500)}</p>`);
    const page = renderArticlePage(site, article, {
      counts: { replies: 1, likes: 0, boosts: 0, quotes: 0 },
      replies: [long],
      page: 1,
      pages: 1,
    });
    expectSoundPage(page);
    const content = byTag(page, "div").find((d) => attr(d, "class") === "reply-content");
    const shown = text(content as Element);
    expect(shown.length).toBeLessThan(600);
    expect(shown).toMatch(/^Word & link Word & link .*…Read the whole reply$/);
    const more = byTagIn(content as Element, "a");
    expect(more.map((a) => attr(a, "href"))).toEqual([long.url]);
    expect(page).not.toContain("replies=");
  });
});

describe("renderTagPage()", () => {
  const page = renderTagPage(site, "R&D", [makeArticle({ tags: ["R&D"] })]);

  it("lists its articles and links its own three feeds", () => {
    expectSoundPage(page);
    expect(alternates(page)).toEqual({
      "application/rss+xml": "https://news.test/tags/R%26D/feed.xml",
      "application/atom+xml": "https://news.test/tags/R%26D/atom.xml",
      "application/feed+json": "https://news.test/tags/R%26D/feed.json",
    });
    expect(text(byTag(page, "h1")[0] as Element)).toContain("R&D");
    expect(byTag(page, "article")).toHaveLength(1);
  });

  it("titles its articles one heading level below its own (axe: heading-order)", () => {
    expect(byTag(page, "h2")).toHaveLength(1);
    expect(byTag(page, "h3")).toHaveLength(0);
  });
});

describe("renderGonePage() and renderNotFoundPage()", () => {
  it("tell a removed article from a missing page, in the site's language", () => {
    const gone = renderGonePage({ ...site, language: "de" });
    expectSoundPage(gone);
    expect(attr(byTag(gone, "html")[0], "lang")).toBe("de");
    expect(text(byTag(gone, "h1")[0] as Element)).toBe("Artikel entfernt");
    expect(meta(gone, "robots")).toEqual(["noindex"]);

    const missing = renderNotFoundPage(site);
    expectSoundPage(missing);
    expect(text(byTag(missing, "h1")[0] as Element)).toBe("Page not found");
  });
});

describe("stylesheet", () => {
  it("reads well on a phone and follows the dark mode preference", () => {
    expect(stylesheet).toContain("prefers-color-scheme: dark");
    expect(stylesheet).toMatch(/max-width: \d+rem/);
  });
});
