import { createSite, type Site } from "../../src/http/site.ts";
import { runScan } from "../../src/pipeline.ts";
import type { ArticleStore } from "../../src/store/store.ts";
import { sqliteStore } from "./articles.ts";

/** The origin of the test sites. */
export const siteOrigin = new URL("http://news.test");

/**
 * An English site "News" on a fresh SQLite store whose feeds carry `limit` stories, and a
 * scan of `articlesDir` into it (run once before this resolves).
 */
export async function scannedSite(
  articlesDir: string,
  limit: number,
): Promise<{ site: Site; store: ArticleStore; scan: () => ReturnType<typeof runScan> }> {
  const origin = siteOrigin;
  const { store } = sqliteStore();
  const site = createSite(store, {
    page: { origin, title: "News", description: "News", language: "en", handle: "@news@news.test" },
    feed: { origin, title: "News", author: "Desk" },
    limit,
  });
  await store.subscribe(site.publisher.name);
  const scan = () =>
    runScan({
      articlesDir,
      parseOptions: { defaultLanguage: "en" },
      store,
      publishers: [site.publisher],
    });
  await scan();
  return { site, store, scan };
}
