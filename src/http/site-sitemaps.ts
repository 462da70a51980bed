/**
 * The site's sitemaps (`sitemap.ts` renders them), kept in its page cache: `sitemap.xml` from
 * the published articles' slugs and dates alone, `news-sitemap.xml` from the latest stories.
 */
import type { ArticleStore } from "../store/store.ts";
import type { PageCache } from "./page-cache.ts";
import { makeRepresentationAsync } from "./representation.ts";
import { NEWS_LIMIT, renderNewsSitemap, renderSitemap, SITEMAP_LIMIT } from "./sitemap.ts";

const epoch = new Date(0);
const HOUR_MS = 60 * 60 * 1000;

export interface SitemapDeps {
  readonly store: ArticleStore;
  readonly cache: PageCache;
  readonly page: { readonly origin: URL; readonly title: string };
  /** The ids of the section pages (`SECTIONS`). */
  readonly sectionIds: readonly string[];
}

export function sitemaps({ store, cache, page, sectionIds }: SitemapDeps, now: () => Date) {
  return {
    sitemap: () =>
      cache.get("sitemap", 0, async () => {
        // Slugs and dates from indexed columns: 50,000 entries without decoding an article.
        const links = await store.listPublishedLinks(SITEMAP_LIMIT);
        // Several megabytes at 50,000 entries, built again after each change: brotli 11 would
        // take seconds of the thread pool for a few per cent.
        return makeRepresentationAsync(
          renderSitemap(page.origin, links, sectionIds),
          "application/xml",
          (await store.lastChange()) ?? epoch,
          { brotliQuality: 5 },
        );
      }),
    // Its content changes as time passes, too: built again every hour at the latest.
    newsSitemap: () => {
      const at = now();
      return cache.get("news-sitemap", Math.floor(at.getTime() / HOUR_MS), async () => {
        const articles = await store.listPublished({ limit: NEWS_LIMIT });
        return makeRepresentationAsync(
          renderNewsSitemap(page, articles, at),
          "application/xml",
          (await store.lastChange()) ?? epoch,
        );
      });
    },
  };
}
