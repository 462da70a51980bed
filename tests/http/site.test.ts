import { copyFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createSite } from "../../src/http/site.ts";
import { runScan } from "../../src/pipeline.ts";
import { articlesDir, seedPath, sqliteStore } from "../helpers/articles.ts";

const origin = new URL("http://news.test");

async function siteWithSeed() {
  const articles = articlesDir();
  copyFileSync(seedPath, articles.path("seed.txt"));
  const { store } = sqliteStore();
  const site = createSite(store, {
    page: { origin, title: "News", description: "News", language: "en", handle: "@news@news.test" },
    feed: { origin, title: "News", author: "Desk" },
    limit: 50,
  });
  await store.subscribe(site.publisher.name);
  await runScan({
    articlesDir: articles.dir,
    parseOptions: { defaultLanguage: "en" },
    store,
    publishers: [site.publisher],
  });
  const [article] = await store.listPublished({ limit: 1 });
  if (article === undefined) throw new Error("The seed was not published.");
  return { site, slug: article.slug };
}

describe("createSite()", () => {
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
