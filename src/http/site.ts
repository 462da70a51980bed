/**
 * The web site and its feeds as prebuilt representations: rendered once per change (the
 * home page and home feeds right away, the rest on first request), never per request.
 */
import { getLogger } from "@logtape/logtape";
import type { Article, ChangeEvent } from "../article.ts";
import type { FeedPaths } from "../feeds/model.ts";
import {
  type FeedSite,
  type FeedSiteBase,
  feedContentTypes,
  feedSiteFor,
  renderFeeds,
} from "../feeds/render.ts";
import { pingHub } from "../feeds/websub.ts";
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

  // The three feeds of a set are rendered together, from one read of the store.
  const renderSet = async (articles: readonly Article[], site: FeedSite): Promise<FeedSet> => {
    const rendered = renderFeeds(articles, site);
    const make = (format: FeedFormat) =>
      makeRepresentationAsync(rendered[format], feedContentTypes[format], rendered.updated);
    const [rss, atom, json] = await Promise.all([make("rss"), make("atom"), make("json")]);
    return { rss, atom, json };
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

  const feeds = (tag?: string) =>
    cache.get(`feeds:${tag ?? ""}`, async (): Promise<FeedSet | undefined> => {
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
      return await renderSet(articles, site);
    });

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
      const body = await cache.get(`article:${article.id}:${article.hash}`, () =>
        html(renderArticlePage(options.page, article), article.updated),
      );
      return { status: 200, body };
    },
    stylesheet: makeRepresentation(stylesheet, "text/css", epoch),
    notFound: makeRepresentation(renderNotFoundPage(options.page), "text/html", epoch),
  };
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
