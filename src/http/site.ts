/**
 * The web site and its feeds as prebuilt representations: rendered once per change (the
 * home page and home feeds right away, the rest on first request), never per request.
 */
import { getLogger } from "@logtape/logtape";
import type { Article, ChangeEvent } from "../article.ts";
import type { EntryCounts, FeedPaths } from "../feeds/model.ts";
import {
  type FeedSite,
  type FeedSiteBase,
  feedContentTypes,
  feedSiteFor,
  renderFeeds,
} from "../feeds/render.ts";
import { pingHub } from "../feeds/websub.ts";
import type { InteractionReader } from "../interactions.ts";
import type { Publisher } from "../pipeline.ts";
import type { ArticleStore } from "../store/store.ts";
import { absolute, paths } from "../urls.ts";
import {
  type PageSite,
  renderArticlePage,
  renderGonePage,
  renderHomePage,
  renderNotFoundPage,
  renderTagPage,
} from "./pages.ts";
import {
  makeRepresentation,
  makeRepresentationAsync,
  type Representation,
} from "./representation.ts";
import { stylesheet } from "./style.ts";

const logger = getLogger(["herald", "http", "site"]);

export type FeedFormat = "rss" | "atom" | "json";
type FeedSet = Readonly<Record<FeedFormat, Representation>>;

export interface SiteOptions {
  readonly page: PageSite;
  readonly feed: FeedSiteBase;
  /** How many of the latest articles the home page, tag pages and feeds carry. */
  readonly limit: number;
  /**
   * Replies, likes and boosts from the fediverse: shown under each article, counted in the
   * JSON Feeds (not in the archives, which stay fixed).
   */
  readonly interactions?: InteractionReader;
}

export interface Site {
  /** Rebuilds after change events; subscribe it before the federation publisher. */
  readonly publisher: Publisher;
  home(): Promise<Representation>;
  /** A tag's feeds exist while the tag has (or had) articles. */
  feed(format: FeedFormat, tag?: string): Promise<Representation | undefined>;
  /** An RFC 5005 archive page of the home feeds (1 = oldest), while it is a full page. */
  archiveFeed(format: FeedFormat, page: number): Promise<Representation | undefined>;
  tagPage(tag: string): Promise<Representation | undefined>;
  /** `410` for an article that was deleted. */
  articlePage(slug: string): Promise<{ status: 200 | 410; body: Representation } | undefined>;
  readonly stylesheet: Representation;
  readonly notFound: Representation;
}

const epoch = new Date(0);

const archivePaths = (page: number): FeedPaths => ({
  rss: paths.archiveRss(page),
  atom: paths.archiveAtom(page),
  json: paths.archiveJson(page),
});

export function createSite(store: ArticleStore, options: SiteOptions): Site {
  const cache = new Memo(2000);
  const html = (body: string, lastModified: Date) =>
    makeRepresentationAsync(body, "text/html", lastModified);

  const interactions = options.interactions;
  /**
   * When replies, likes or boosts last changed. A change empties the cache, as an article
   * change does: pages and feeds showing them are built anew on their next request.
   */
  let seenReactions = epoch.getTime();
  const reactionsAt = async () => {
    const at = (await interactions?.changedAt()) ?? epoch;
    if (at.getTime() !== seenReactions) {
      seenReactions = at.getTime();
      cache.clear();
    }
    return at;
  };

  // The three feeds of a set are rendered together, from one read of the store.
  const renderSet = async (
    articles: readonly Article[],
    site: FeedSite,
    counted?: Date,
  ): Promise<FeedSet> => {
    const counts = counted === undefined ? undefined : await countsOf(articles);
    const rendered = renderFeeds(articles, site, counts);
    const make = (format: FeedFormat, lastModified = rendered.updated) =>
      makeRepresentationAsync(rendered[format], feedContentTypes[format], lastModified);
    const [rss, atom, json] = await Promise.all([
      make("rss"),
      make("atom"),
      make("json", counted === undefined ? rendered.updated : later(rendered.updated, counted)),
    ]);
    return { rss, atom, json };
  };

  const countsOf = async (articles: readonly Article[]) => {
    const reader = interactions;
    if (reader === undefined) return undefined;
    const entries = await Promise.all(
      articles.map(async (a) => [a.id, await reader.counts(a.id)] as const),
    );
    return new Map<string, EntryCounts>(entries);
  };

  /**
   * Full archive pages (RFC 5005): page 1 holds the oldest `limit` articles, and so on; the
   * current feed links to the newest page with an article older than any it carries itself.
   */
  const archivePages = async () => {
    const total = await store.countPublished();
    const pages = total > options.limit ? Math.floor(total / options.limit) : 0;
    return { total, pages, beforeCurrent: pages > 0 ? Math.ceil(total / options.limit) - 1 : 0 };
  };

  const feeds = async (tag?: string) => {
    const counted = interactions === undefined ? undefined : await reactionsAt();
    return cache.get(`feeds:${tag ?? ""}`, async () => {
      const changed = await store.lastChange(tag);
      if (changed === undefined && tag !== undefined) return undefined;
      const articles = await store.listPublished({ limit: options.limit, tag });
      // Archives are of the home feeds; a tag's feeds carry its latest articles only.
      const { beforeCurrent } = tag === undefined ? await archivePages() : { beforeCurrent: 0 };
      const site: FeedSite = {
        ...feedSiteFor(options.feed, tag),
        ...(changed ? { changed } : {}),
        ...(beforeCurrent > 0
          ? { archive: { isArchive: false, prev: archivePaths(beforeCurrent) } }
          : {}),
      };
      return await renderSet(articles, site, counted);
    });
  };

  const archive = (page: number) =>
    cache.get(`archive:${page}`, async (): Promise<FeedSet | undefined> => {
      const { total, pages } = await archivePages();
      if (!Number.isInteger(page) || page < 1 || page > pages) return undefined;
      // Newest first: the page's articles are the last `limit` of the newest `total - skipped`.
      const newer = await store.listPublished({ limit: total - (page - 1) * options.limit });
      const articles = newer.slice(-options.limit);
      const home = feedSiteFor(options.feed);
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
      return await renderSet(articles, site);
    });

  const home = () =>
    cache.get("home", async () => {
      const articles = await store.listPublished({ limit: options.limit });
      return html(renderHomePage(options.page, articles), (await store.lastChange()) ?? epoch);
    });

  const gone = makeRepresentation(renderGonePage(options.page), "text/html", epoch);

  return {
    publisher: {
      name: "site",
      async publish(events) {
        cache.clear();
        // Warm what visitors and feed readers ask for first.
        await Promise.all([home(), feeds()]);
        announce(options, events);
      },
    },
    home,
    feed: async (format, tag) => (await feeds(tag))?.[format],
    archiveFeed: async (format, page) => (await archive(page))?.[format],
    tagPage: (tag) =>
      cache.get(`tag:${tag}`, async () => {
        const changed = await store.lastChange(tag);
        if (changed === undefined) return undefined;
        const articles = await store.listPublished({ limit: options.limit, tag });
        return html(renderTagPage(options.page, tag, articles), changed);
      }),
    async articlePage(slug) {
      const record = await store.findBySlug(slug);
      if (record?.state === "deleted") return { status: 410, body: gone };
      if (record?.state !== "published") return undefined;
      const { article } = record;
      const at = await reactionsAt();
      const body = await cache.get(`article:${article.id}:${article.hash}`, async () =>
        html(
          renderArticlePage(options.page, article, (await interactions?.list(article.id)) ?? []),
          later(article.updated, at),
        ),
      );
      return { status: 200, body };
    },
    stylesheet: makeRepresentation(stylesheet, "text/css", epoch),
    notFound: makeRepresentation(renderNotFoundPage(options.page), "text/html", epoch),
  };
}

function later(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}

/** Tells the WebSub hub (if any) which feeds changed; never waited for, never fails a publish. */
function announce(options: SiteOptions, events: readonly ChangeEvent[]): void {
  const hub = options.feed.hub;
  if (hub === undefined) return;
  const tags = new Set(events.flatMap((event) => event.article.tags));
  const topics = [undefined, ...tags].flatMap((tag) =>
    Object.values(feedSiteFor(options.feed, tag).feedPaths).map((path) =>
      absolute(options.page.origin, path),
    ),
  );
  void pingHub(hub, topics).then((results) => {
    const failed = results.filter((result) => !result.ok).length;
    if (failed > 0) {
      logger.warn("The WebSub hub refused {failed} of {count} pings.", {
        failed,
        count: results.length,
      });
    }
  });
}

/**
 * Promises by key, most recently used last; the oldest go beyond `size`. A failed build is
 * forgotten, so the next request tries again.
 */
class Memo {
  readonly #size: number;
  readonly #entries = new Map<string, Promise<unknown>>();

  constructor(size: number) {
    this.#size = size;
  }

  get<T>(key: string, build: () => Promise<T>): Promise<T> {
    let entry = this.#entries.get(key) as Promise<T> | undefined;
    if (entry === undefined) {
      entry = build();
      entry.catch(() => this.#entries.delete(key));
      if (this.#entries.size >= this.#size) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  clear(): void {
    this.#entries.clear();
  }
}
