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
import { labelsFor, predominantLanguage } from "../labels.ts";
import type { Publisher } from "../pipeline.ts";
import { type ArticleStore, tagKey } from "../store/store.ts";
import { absolute, paths } from "../urls.ts";
import { defaultIcon, type SiteIcon } from "./favicon.ts";
import {
  type InteractionsView,
  type PageSite,
  REPLIES_PER_PAGE,
  renderArticlePage,
  renderFollowRefusedPage,
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
import {
  NEWS_LIMIT,
  renderNewsSitemap,
  renderRobots,
  renderSitemap,
  SITEMAP_LIMIT,
} from "./sitemap.ts";
import { SlugIndex } from "./slugs.ts";
import { stylesheet } from "./style.ts";

const logger = getLogger(["herald", "http", "site"]);

export type FeedFormat = "rss" | "atom" | "json";
type FeedSet = Readonly<Record<FeedFormat, Representation>>;

export interface SiteOptions {
  readonly page: PageSite;
  /** The feeds' description and language are the pages' (`page.description`, the site's language). */
  readonly feed: Omit<FeedSiteBase, "description" | "language">;
  /** How many of the latest articles the home page, tag pages and feeds carry. */
  readonly limit: number;
  /**
   * Replies, likes and boosts from the fediverse: shown under each article, counted in the
   * JSON Feeds (not in the archives, which stay fixed).
   */
  readonly interactions?: InteractionReader;
  /** `SITE_ICON`; default the built-in SVG. */
  readonly icon?: SiteIcon;
  /** For the news sitemap's "last two days"; default the system clock. */
  readonly now?: () => Date;
}

export interface Site {
  /** Rebuilds after change events; subscribe it before the federation publisher. */
  readonly publisher: Publisher;
  /**
   * Counts the article changes published so far: what was served before another one may
   * be out of date (hot-paths.ts keeps answers while it stays).
   */
  generation(): number;
  home(): Promise<Representation>;
  /** A tag's feeds exist while the tag has (or had) articles. */
  feed(format: FeedFormat, tag?: string): Promise<Representation | undefined>;
  /** An RFC 5005 archive page of the home feeds (1 = oldest), while it is a full page. */
  archiveFeed(format: FeedFormat, page: number): Promise<Representation | undefined>;
  tagPage(tag: string): Promise<Representation | undefined>;
  /**
   * A tag's one spelling for its URLs: the one most of its latest articles use (the newest
   * on a tie). Tags match whatever their case; a tag no published article has is as asked.
   */
  canonicalTag(tag: string): Promise<string>;
  /**
   * `410` for an article that was deleted. `replies` picks the page of its replies (1 = the
   * newest); a page past the last is not there.
   */
  articlePage(
    slug: string,
    replies?: number,
  ): Promise<{ status: 200 | 410; body: Representation } | undefined>;
  /** Every published article (`sitemap.xml`). */
  sitemap(): Promise<Representation>;
  /** The articles of the last two days, for Google News (`news-sitemap.xml`). */
  newsSitemap(): Promise<Representation>;
  readonly robots: Representation;
  readonly icon: { readonly path: string; readonly body: Representation };
  readonly stylesheet: Representation;
  notFound(): Promise<Representation>;
  /** The follow box's form got no server or handle (`http/follow.ts`): serve with 400. */
  followRefused(): Promise<Representation>;
}

const epoch = new Date(0);

const archivePaths = (page: number): FeedPaths => ({
  rss: paths.archiveRss(page),
  atom: paths.archiveAtom(page),
  json: paths.archiveJson(page),
});

export function createSite(store: ArticleStore, options: SiteOptions): Site {
  const cache = new Memo({ entries: 2000, bytes: CACHE_BYTES });
  const icon = options.icon ?? defaultIcon;
  const now = options.now ?? (() => new Date());
  const html = (body: string, lastModified: Date) =>
    makeRepresentationAsync(body, "text/html", lastModified);

  /**
   * The site's language: `SITE_LANGUAGE`, or else the predominant one of the latest articles,
   * found again after each change (with the pages that speak it).
   */
  let language: Promise<string> | undefined;
  const siteLanguage = () => {
    language ??= options.page.languageFromArticles
      ? store
          .listPublished({ limit: options.limit })
          .then((articles) => predominantLanguage(articles) ?? options.page.language)
      : Promise.resolve(options.page.language);
    return language;
  };
  const pageSite = async (): Promise<PageSite> => ({
    ...options.page,
    icon,
    language: await siteLanguage(),
  });
  /** The feeds speak the site's language too, with its tagline when none is configured. */
  const feedSite = async (tag?: string): Promise<FeedSite> => {
    const language = await siteLanguage();
    return {
      ...feedSiteFor(options.feed, tag),
      ...(options.page.timeZone === undefined ? {} : { timeZone: options.page.timeZone }),
      language,
      description: options.page.description ?? labelsFor(language).tagline,
    };
  };

  const interactions = options.interactions;
  /**
   * When replies, likes or boosts last changed (the store reads it at most twice a second).
   * What shows them (article pages, the feeds' counts) is kept with this time as its version:
   * however many likes arrive, each is rebuilt at most twice a second, on its next request,
   * once for all requests waiting; pages, feeds and archives that do not show them stay.
   */
  const interactionsAt = async () => (await interactions?.changedAt()) ?? epoch;

  /** One page of an article's replies, newest first, with its counts. */
  const interactionsView = async (
    articleId: string,
    page: number,
  ): Promise<InteractionsView | undefined> => {
    const counts = (await interactions?.counts(articleId)) ?? noCounts;
    const pages = Math.ceil(counts.replies / REPLIES_PER_PAGE);
    if (page > Math.max(pages, 1)) return undefined;
    const replies =
      interactions === undefined || counts.replies === 0
        ? []
        : await interactions.listReplies(articleId, {
            limit: REPLIES_PER_PAGE,
            offset: (page - 1) * REPLIES_PER_PAGE,
          });
    return { counts, replies, page, pages };
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
    const counted = interactions === undefined ? undefined : await interactionsAt();
    return cache.get(`feeds:${tag ?? ""}`, counted?.getTime() ?? 0, async () => {
      const changed = await store.lastChange(tag);
      if (changed === undefined && tag !== undefined) return undefined;
      const articles = await store.listPublished({ limit: options.limit, tag });
      // Archives are of the home feeds; a tag's feeds carry its latest articles only.
      const { beforeCurrent } = tag === undefined ? await archivePages() : { beforeCurrent: 0 };
      const site: FeedSite = {
        ...(await feedSite(tag)),
        ...(changed ? { changed } : {}),
        ...(beforeCurrent > 0
          ? { archive: { isArchive: false, prev: archivePaths(beforeCurrent) } }
          : {}),
      };
      return await renderSet(articles, site, counted);
    });
  };

  const archive = (page: number) =>
    cache.get(`archive:${page}`, 0, async (): Promise<FeedSet | undefined> => {
      const { total, pages } = await archivePages();
      if (!Number.isInteger(page) || page < 1 || page > pages) return undefined;
      // Newest first: the page's articles are the last `limit` of the newest `total - skipped`.
      const newer = await store.listPublished({ limit: total - (page - 1) * options.limit });
      const articles = newer.slice(-options.limit);
      const home = await feedSite();
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
    cache.get("home", 0, async () => {
      const articles = await store.listPublished({ limit: options.limit });
      return html(renderHomePage(await pageSite(), articles), (await store.lastChange()) ?? epoch);
    });

  const slugs = new SlugIndex(store);
  let generation = 0;

  // Spellings by tag key; only tags that exist, so asking for made-up ones fills nothing.
  const spellings = new Map<string, string>();
  const canonicalTag = async (tag: string) => {
    const key = tagKey(tag);
    const known = spellings.get(key);
    if (known !== undefined) return known;
    const articles = await store.listPublished({ limit: options.limit, tag });
    const spelling = mostUsed(articles.flatMap((a) => a.tags.filter((t) => tagKey(t) === key)));
    if (spelling === undefined) return tag;
    spellings.set(key, spelling);
    return spelling;
  };

  const sitemap = () =>
    cache.get("sitemap", 0, async () => {
      const articles = await store.listPublished({ limit: SITEMAP_LIMIT });
      return makeRepresentationAsync(
        renderSitemap(options.page.origin, articles),
        "application/xml",
        (await store.lastChange()) ?? epoch,
      );
    });

  // Its content changes as time passes, too: built again every hour at the latest.
  const newsSitemap = () => {
    const at = now();
    return cache.get("news-sitemap", Math.floor(at.getTime() / HOUR_MS), async () => {
      const articles = await store.listPublished({ limit: NEWS_LIMIT });
      return makeRepresentationAsync(
        renderNewsSitemap(options.page, articles, at),
        "application/xml",
        (await store.lastChange()) ?? epoch,
      );
    });
  };

  const gone = () => cache.get("410", 0, async () => html(renderGonePage(await pageSite()), epoch));

  return {
    publisher: {
      name: "site",
      async publish(events) {
        generation++;
        cache.clear();
        slugs.clear();
        spellings.clear();
        language = undefined;
        // Warm what visitors and feed readers ask for first.
        await Promise.all([home(), feeds()]);
        announce(options, events);
      },
    },
    generation: () => generation,
    home,
    feed: async (format, tag) => (await feeds(tag))?.[format],
    archiveFeed: async (format, page) => (await archive(page))?.[format],
    tagPage: (tag) =>
      cache.get(`tag:${tag}`, 0, async () => {
        const changed = await store.lastChange(tag);
        if (changed === undefined) return undefined;
        const articles = await store.listPublished({ limit: options.limit, tag });
        return html(renderTagPage(await pageSite(), tag, articles), changed);
      }),
    canonicalTag,
    async articlePage(slug, replies = 1) {
      const known = await slugs.find(slug);
      if (known?.state === "deleted") return { status: 410, body: await gone() };
      if (known?.state !== "published") return undefined;
      const at = await interactionsAt();
      const body = await cache.get(
        `article:${known.id}:${known.hash}:${replies}`,
        at.getTime(),
        async () => {
          const record = await store.findBySlug(slug);
          if (record?.state !== "published") return undefined;
          const { article } = record;
          const view = await interactionsView(article.id, replies);
          if (view === undefined) return undefined;
          // Built again after every change of its interactions: brotli 11 would spend 10 to 100
          // times longer on it than 5, for a body a tenth smaller.
          return makeRepresentationAsync(
            renderArticlePage(await pageSite(), article, view),
            "text/html",
            later(article.updated, at),
            { brotliQuality: 5 },
          );
        },
      );
      return body === undefined ? undefined : { status: 200, body };
    },
    sitemap,
    newsSitemap,
    robots: makeRepresentation(renderRobots(options.page.origin), "text/plain", epoch),
    icon: { path: icon.path, body: makeRepresentation(icon.body, icon.contentType, epoch) },
    stylesheet: makeRepresentation(stylesheet, "text/css", epoch),
    notFound: () =>
      cache.get("404", 0, async () => html(renderNotFoundPage(await pageSite()), epoch)),
    followRefused: () =>
      cache.get("follow-400", 0, async () =>
        html(renderFollowRefusedPage(await pageSite()), epoch),
      ),
  };
}

/** The most frequent of `values`; on a tie, the one that comes first. */
function mostUsed(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best: string | undefined;
  for (const [value, count] of counts) if (count > (counts.get(best ?? "") ?? 0)) best = value;
  return best;
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

/** What the cache may hold in bodies (each variant counts): pages are bounded, so are they. */
const CACHE_BYTES = 64 * 1024 * 1024;

const HOUR_MS = 60 * 60 * 1000;

const noCounts = { replies: 0, likes: 0, boosts: 0 } as const;

type Cached = Representation | FeedSet;

function bytesOf(value: Cached): number {
  const reps = "identity" in value ? [value as Representation] : Object.values(value);
  return reps.reduce(
    (sum: number, rep: Representation) =>
      sum + rep.identity.body.length + (rep.gzip?.body.length ?? 0) + (rep.br?.body.length ?? 0),
    0,
  );
}

/**
 * Built bodies by key, most recently used last; the oldest go when there are more than
 * `entries` or they take more than `bytes`. Only what exists is kept: a build that finds
 * nothing (a 404) or fails is forgotten, so requests for unknown tags never push out a page.
 * Requests for a key being built wait for that one build.
 *
 * `version` says which state of its inputs a body shows (when interactions last changed): asked
 * for another version, the body is built again, once for all who ask meanwhile. `clear()`
 * drops everything, for article changes.
 */
class Memo {
  readonly #entries: number;
  readonly #bytes: number;
  readonly #kept = new Map<string, { value: Cached; version: number; bytes: number }>();
  readonly #building = new Map<string, Promise<Cached | undefined>>();
  #total = 0;
  /** Bumped by `clear()`: a build started before may not keep its (stale) body. */
  #generation = 0;

  constructor(limits: { entries: number; bytes: number }) {
    this.#entries = limits.entries;
    this.#bytes = limits.bytes;
  }

  get<T extends Cached | undefined>(
    key: string,
    version: number,
    build: () => Promise<T>,
  ): Promise<T> {
    const kept = this.#kept.get(key);
    if (kept === undefined || kept.version !== version) return this.#build(key, version, build);
    this.#kept.delete(key);
    this.#kept.set(key, kept);
    return Promise.resolve(kept.value as T);
  }

  clear(): void {
    this.#generation++;
    this.#kept.clear();
    this.#building.clear();
    this.#total = 0;
  }

  #build<T extends Cached | undefined>(
    key: string,
    version: number,
    build: () => Promise<T>,
  ): Promise<T> {
    const running = this.#building.get(key);
    if (running !== undefined) return running as Promise<T>;
    const generation = this.#generation;
    const built = build()
      .then((value) => {
        if (generation === this.#generation) this.#keep(key, version, value);
        return value;
      })
      .finally(() => {
        if (this.#building.get(key) === built) this.#building.delete(key);
      });
    this.#building.set(key, built);
    return built;
  }

  #keep(key: string, version: number, value: Cached | undefined): void {
    this.#forget(key);
    if (value === undefined) return;
    const bytes = bytesOf(value);
    this.#kept.set(key, { value, version, bytes });
    this.#total += bytes;
    for (const oldest of this.#kept.keys()) {
      if (oldest === key || (this.#kept.size <= this.#entries && this.#total <= this.#bytes)) break;
      this.#forget(oldest);
    }
  }

  #forget(key: string): void {
    const kept = this.#kept.get(key);
    if (kept === undefined) return;
    this.#kept.delete(key);
    this.#total -= kept.bytes;
  }
}
