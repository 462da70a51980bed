/**
 * The home, tag and section feeds (RSS, Atom, JSON Feed) and the home feeds' RFC 5005 archive pages,
 * built as sets of three through the site's page cache.
 */
import type { Article } from "../article.ts";
import type { EntryCounts, FeedPaths } from "../feeds/model.ts";
import { type FeedSite, feedContentTypes, renderFeeds } from "../feeds/render.ts";
import type { InteractionReader } from "../interactions.ts";
import type { ArticleStore } from "../store/store.ts";
import { paths } from "../urls.ts";
import type { PageCache } from "./page-cache.ts";
import { makeRepresentationAsync, type Representation } from "./representation.ts";
import { type SectionView, sectionArticles, sectionFeedSite } from "./section-pages.ts";

export type FeedFormat = "rss" | "atom" | "json";
export type FeedSet = Readonly<Record<FeedFormat, Representation>>;

export interface FeedSetsDeps {
  readonly store: ArticleStore;
  readonly cache: PageCache;
  /** How many of the latest articles a feed (and an archive page) carries. */
  readonly limit: number;
  /** Counted in the JSON Feeds when there; the archives stay fixed. */
  readonly interactions: InteractionReader | undefined;
  /** When interactions last changed: the version of the feeds that count them. */
  readonly interactionsAt: () => Promise<Date>;
  readonly feedSite: (tag?: string) => Promise<FeedSite>;
}

export interface FeedSets {
  /** The home feeds, or a tag's while it has (or had) articles. */
  feeds(tag?: string): Promise<FeedSet | undefined>;
  /** An archive page of the home feeds (1 = oldest), while it is a full page. */
  archive(page: number): Promise<FeedSet | undefined>;
  /** A section's feeds: the latest stories carrying any of its tags. */
  section(view: SectionView): Promise<FeedSet>;
}

const archivePaths = (page: number): FeedPaths => ({
  rss: paths.archiveRss(page),
  atom: paths.archiveAtom(page),
  json: paths.archiveJson(page),
});

export function later(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}

export function feedSets(deps: FeedSetsDeps): FeedSets {
  const { store, cache, limit } = deps;
  /**
   * Full archive pages (RFC 5005): page 1 holds the oldest `limit` articles, and so on; the
   * current feed links to the newest page with an article older than any it carries itself.
   */
  const archivePages = async () => {
    const total = await store.countPublished();
    const pages = total > limit ? Math.floor(total / limit) : 0;
    return { total, pages, beforeCurrent: pages > 0 ? Math.ceil(total / limit) - 1 : 0 };
  };

  const feeds = async (tag?: string) => {
    const counted = deps.interactions === undefined ? undefined : await deps.interactionsAt();
    return cache.get(`feeds:${tag ?? ""}`, counted?.getTime() ?? 0, async () => {
      const changed = await store.lastChange(tag);
      if (changed === undefined && tag !== undefined) return undefined;
      const articles = await store.listPublished({ limit, tag });
      // Archives are of the home feeds; a tag's feeds carry its latest articles only.
      const { beforeCurrent } = tag === undefined ? await archivePages() : { beforeCurrent: 0 };
      const site: FeedSite = {
        ...(await deps.feedSite(tag)),
        ...(changed ? { changed } : {}),
        ...(beforeCurrent > 0
          ? { archive: { isArchive: false, prev: archivePaths(beforeCurrent) } }
          : {}),
      };
      return await renderSet(deps.interactions, articles, site, counted);
    });
  };

  const archive = (page: number) =>
    cache.get(`archive:${page}`, 0, async (): Promise<FeedSet | undefined> => {
      const { total, pages } = await archivePages();
      if (!Number.isInteger(page) || page < 1 || page > pages) return undefined;
      // Newest first: the page's articles are the last `limit` of the newest `total - skipped`.
      const newer = await store.listPublished({ limit: total - (page - 1) * limit });
      const articles = newer.slice(-limit);
      const home = await deps.feedSite();
      const site: FeedSite = {
        ...home,
        feedPaths: archivePaths(page),
        archive: {
          isArchive: true,
          current: home.feedPaths,
          ...(page > 1 ? { prev: archivePaths(page - 1) } : {}),
          ...(page < pages ? { next: archivePaths(page + 1) } : {}),
        },
      };
      return await renderSet(undefined, articles, site);
    });

  const section = async (view: SectionView) => {
    const counted = deps.interactions === undefined ? undefined : await deps.interactionsAt();
    return cache.get(`section-feeds:${view.id}`, counted?.getTime() ?? 0, async () => {
      const { articles, changed } = await sectionArticles(store, view, limit);
      const site: FeedSite = {
        ...sectionFeedSite(await deps.feedSite(), view),
        ...(changed ? { changed } : {}),
      };
      return await renderSet(deps.interactions, articles, site, counted);
    });
  };

  return { feeds, archive, section };
}

// The three feeds of a set are rendered together, from one read of the store.
async function renderSet(
  interactions: InteractionReader | undefined,
  articles: readonly Article[],
  site: FeedSite,
  counted?: Date,
): Promise<FeedSet> {
  const counts =
    counted === undefined || interactions === undefined
      ? undefined
      : await countsOf(interactions, articles);
  const rendered = renderFeeds(articles, site, counts);
  const make = (format: FeedFormat, lastModified = rendered.updated) =>
    makeRepresentationAsync(rendered[format], feedContentTypes[format], lastModified);
  const [rss, atom, json] = await Promise.all([
    make("rss"),
    make("atom"),
    make("json", counted === undefined ? rendered.updated : later(rendered.updated, counted)),
  ]);
  return { rss, atom, json };
}

async function countsOf(
  interactions: InteractionReader,
  articles: readonly Article[],
): Promise<Map<string, EntryCounts>> {
  const entries = await Promise.all(
    articles.map(async (a) => [a.id, await interactions.counts(a.id)] as const),
  );
  return new Map(entries);
}
