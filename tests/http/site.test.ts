import { copyFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { articlesDir, seedPath } from "../helpers/articles.ts";
import { scannedSite } from "../helpers/site.ts";

async function siteWithSeed() {
  const articles = articlesDir();
  copyFileSync(seedPath, articles.path("seed.txt"));
  const { site, store } = await scannedSite(articles.dir, 50);
  const [article] = await store.listPublished({ limit: 1 });
  if (article === undefined) throw new Error("The seed was not published.");
  return { site, slug: article.slug };
}

/** A site of five stories a day apart, tagged a or b; its feeds and archive pages carry 2. */
async function siteWithStories() {
  const articles = articlesDir();
  const story = (i: number, tag: string, text = `Text ${i}.`) =>
    articles.write(
      `s${i}.md`,
      `---\ntitle: Story ${i}\ndate: 2026-01-0${i}T12:00:00Z\ntags: [${tag}]\n---\n${text}`,
    );
  for (let i = 1; i <= 5; i++) story(i, i % 2 === 0 ? "b" : "a");
  const { site, scan } = await scannedSite(articles.dir, 2);
  const built = async () => ({
    tagA: await site.tagPage("a"),
    tagB: await site.tagPage("b"),
    feedB: await site.feed("rss", "b"),
    archive1: await site.archiveFeed("rss", 1),
    archive2: await site.archiveFeed("rss", 2),
    sitemap: await site.sitemap(),
    home: await site.home(),
  });
  return { site, story, scan, built };
}

const text = (body: { identity: { body: Uint8Array } } | undefined) =>
  new TextDecoder().decode(body?.identity.body);

describe("createSite()", () => {
  it("builds again only what a new story touches: home, its tag, the newest archive page, the sitemap", async () => {
    const { story, scan, built } = await siteWithStories();
    const before = await built();
    story(6, "a");
    await scan();
    const after = await built();
    expect(text(after.home)).toContain("Story 6");
    expect(text(after.tagA)).toContain("Story 6");
    expect(text(after.sitemap)).toContain("/articles/s6");
    expect(after.archive2).not.toBe(before.archive2); // the newest full page: a next page now
    expect(text(after.archive2)).toContain("/archive/3/feed.xml");
    // The very same bodies: not built again.
    expect(after.tagB).toBe(before.tagB);
    expect(after.feedB).toBe(before.feedB);
    expect(after.archive1).toBe(before.archive1);
  });

  it("builds every tag and archive page again after an edit, which may have moved them", async () => {
    const { story, scan, built } = await siteWithStories();
    const before = await built();
    story(2, "a", "Text 2, corrected.");
    await scan();
    const after = await built();
    expect(after.tagB).not.toBe(before.tagB);
    expect(text(after.tagB)).not.toContain("Story 2");
    expect(after.archive1).not.toBe(before.archive1);
  });

  it("keeps a built page however many unknown tags and reply pages are asked for", async () => {
    const { site, slug } = await siteWithSeed();
    const before = await site.articlePage(slug);
    expect(before?.status).toBe(200);
    for (let i = 0; i < 3000; i++) {
      expect(await site.tagPage(`nothing-${i}`)).toBeUndefined();
      expect(await site.feed("json", `nothing-${i}`)).toBeUndefined();
    }
    expect(await site.articlePage(slug, 2)).toBeUndefined();
    // The very same body: not built again.
    expect((await site.articlePage(slug))?.body).toBe(before?.body);
  });
});
