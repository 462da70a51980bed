import { parseAtomFeed, parseJsonFeed, parseRssFeed } from "feedsmith";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.ts";
import { articlesDir } from "../helpers/articles.ts";
import { serve } from "../helpers/serve.ts";
import { siteOrigin as origin, scannedSite } from "../helpers/site.ts";

/** A site whose feeds carry the latest 5 articles, with `count` articles a day apart. */
async function siteWith(count: number) {
  const articles = articlesDir();
  for (let i = 1; i <= count; i++) {
    const day = String(i).padStart(2, "0");
    articles.write(
      `s${i}.md`,
      `---\ntitle: Story ${i}\ndate: 2026-01-${day}T12:00:00Z\n---\nText ${i}.`,
    );
  }
  const { site, scan } = await scannedSite(articles.dir, 5);
  const base = await serve(createApp({ site, articlesDir: articles.dir }));
  /** Fetches a feed by its absolute link (which names news.test) from the test server. */
  const get = async (url: string) => {
    const response = await fetch(`${base}${new URL(url, origin).pathname}`);
    return { status: response.status, text: await response.text() };
  };
  return { get, articles, scan };
}

/** The `rel` links of an XML feed document, by relation. */
function xmlLinks(xml: string): Record<string, string> {
  const links: Record<string, string> = {};
  for (const match of xml.matchAll(/<(?:atom:)?link rel="([\w-]+)"[^>]* href="([^"]+)"\/>/g)) {
    links[match[1] as string] = match[2] as string;
  }
  return links;
}

describe("RFC 5005 archived feeds", () => {
  it("lets a reader page from the current feed back to the very first story, in all three formats", async () => {
    const { get } = await siteWith(17);
    const titles = { rss: new Set<string>(), atom: new Set<string>(), json: new Set<string>() };

    // RSS and Atom: follow prev-archive; each archive page says fh:archive and names current.
    for (const [format, path, parse] of [
      ["rss", "/feed.xml", (x: string) => parseRssFeed(x).items?.map((i) => i.title) ?? []],
      [
        "atom",
        "/atom.xml",
        (x: string) =>
          parseAtomFeed(x).entries?.map((e) => {
            const title = e.title as unknown as { value?: string } | string | undefined;
            return typeof title === "object" ? title?.value : title;
          }) ?? [],
      ],
    ] as const) {
      let url: string | undefined = new URL(path, origin).href;
      let documents = 0;
      while (url !== undefined) {
        const { status, text } = await get(url);
        expect(status).toBe(200);
        for (const title of parse(text)) titles[format].add(String(title));
        const links = xmlLinks(text);
        expect(text.includes("<fh:archive")).toBe(documents > 0);
        if (documents > 0) expect(links.current).toBe(new URL(path, origin).href);
        url = links["prev-archive"];
        documents++;
      }
      expect(documents).toBe(4); // the current feed and the 3 full pages of 5 older stories
    }

    // JSON Feed: next_url leads to older items.
    let next: string | undefined = new URL("/feed.json", origin).href;
    while (next !== undefined) {
      const feed: ReturnType<typeof parseJsonFeed> = parseJsonFeed(
        JSON.parse((await get(next)).text),
      );
      for (const item of feed.items ?? []) titles.json.add(String(item.title));
      next = (feed as { next_url?: string }).next_url;
    }

    const all = Array.from({ length: 17 }, (_, i) => `Story ${i + 1}`);
    for (const format of ["rss", "atom", "json"] as const) {
      expect([...titles[format]].sort()).toEqual([...all].sort());
    }
  });

  it("keeps archive pages fixed as new stories arrive, and has none while one feed holds everything", async () => {
    const { get, articles, scan } = await siteWith(5);
    expect(xmlLinks((await get("/feed.xml")).text)["prev-archive"]).toBeUndefined();
    expect((await get("/archive/1/feed.xml")).status).toBe(404);

    for (let i = 6; i <= 11; i++) {
      articles.write(
        `s${i}.md`,
        `---\ntitle: Story ${i}\ndate: 2026-01-${String(i).padStart(2, "0")}T12:00:00Z\n---\nText ${i}.`,
      );
    }
    await scan();
    const first = parseRssFeed((await get("/archive/1/feed.xml")).text);
    expect(first.items?.map((item) => item.title)).toEqual([
      "Story 5",
      "Story 4",
      "Story 3",
      "Story 2",
      "Story 1",
    ]);
    const before = (await get("/archive/1/feed.xml")).text;
    articles.write("s12.md", "---\ntitle: Story 12\ndate: 2026-01-12T12:00:00Z\n---\nText 12.");
    await scan();
    expect((await get("/archive/1/feed.xml")).text).toBe(before);
    expect((await get("/archive/3/feed.xml")).status).toBe(404);
    expect((await get("/archive/0/feed.xml")).status).toBe(404);
    expect((await get("/archive/x/feed.xml")).status).toBe(404);
  });
});
