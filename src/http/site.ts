/**
 * The web site and its feeds as prebuilt representations: rendered once per change (the
 * home page and home feeds right away, the rest on first request), never per request.
 */
import { getLogger } from "@logtape/logtape";
import type { ChangeEvent } from "../article.ts";
import { type FeedSite, type FeedSiteBase, feedSiteFor } from "../feeds/render.ts";
import { pingHub } from "../feeds/websub.ts";
import type { InteractionReader } from "../interactions.ts";
import { labelsFor, predominantLanguage } from "../labels.ts";
import type { Publisher } from "../pipeline.ts";
import { type ArticleStore, tagKey } from "../store/store.ts";
import { absolute } from "../urls.ts";
import { defaultIcon, type SiteIcon } from "./favicon.ts";
import { PageCache } from "./page-cache.ts";
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
  changedSectionFeeds,
  renderSectionPage,
  type SectionView,
  sectionArticles,
} from "./section-pages.ts";
import { staleKeys } from "./site-changes.ts";
import { type FeedFormat, feedSets, later } from "./site-feeds.ts";
import { sitemaps } from "./site-sitemaps.ts";
import { renderRobots } from "./sitemap.ts";
import { SlugIndex } from "./slugs.ts";
import { stylesheet } from "./style.ts";

const logger = getLogger(["herald", "http", "site"]);

export type { FeedFormat };

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
  /** The section accounts (`SECTIONS`): each has a page and feeds. */
  readonly sections?: readonly SectionView[];
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
  /** A section's page and feeds, while `SECTIONS` names it. */
  sectionPage(id: string): Promise<Representation | undefined>;
  sectionFeed(format: FeedFormat, id: string): Promise<Representation | undefined>;
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

/** What the cache may hold in bodies (each variant counts): pages are bounded, so are they. */
const CACHE_BYTES = 64 * 1024 * 1024;

const noCounts = { replies: 0, likes: 0, boosts: 0, quotes: 0 } as const;

export function createSite(store: ArticleStore, options: SiteOptions): Site {
  const cache = new PageCache({ entries: 2000, bytes: CACHE_BYTES });
  const icon = options.icon ?? defaultIcon;
  const voice = siteVoice(store, options, icon);
  const interactions = options.interactions;
  /**
   * When replies, likes or boosts last changed (the store reads it at most twice a second).
   * What shows them (article pages, the feeds' counts) is kept with this time as its version:
   * however many likes arrive, each is rebuilt at most twice a second, on its next request,
   * once for all requests waiting; pages, feeds and archives that do not show them stay.
   */
  const interactionsAt = async () => (await interactions?.changedAt()) ?? epoch;
  const { feeds, archive, section } = feedSets({
    store,
    cache,
    limit: options.limit,
    interactions,
    interactionsAt,
    feedSite: voice.feedSite,
  });
  const build: Builders = { store, options, cache, pageSite: voice.pageSite, interactionsAt };
  const pages = htmlPages(build);
  const slugs = new SlugIndex(store);
  const spellings = tagSpellings(store, options.limit);
  let generation = 0;
  /** The newest published article's date after the last change, once the site has looked. */
  let newest: Date | undefined;

  return {
    publisher: {
      name: "site",
      async publish(events) {
        generation++;
        const spoken = await voice.language();
        voice.clear();
        // Only what the events touch is built again (site-changes.ts), unless the site's
        // language changed with them: every page and feed says it.
        if ((await voice.language()) !== spoken) cache.clear();
        else {
          const published = () => store.countPublished();
          cache.drop(await staleKeys(events, { newest }, { published, limit: options.limit }));
        }
        slugs.clear();
        spellings.clear();
        newest = (await store.listPublished({ limit: 1 }))[0]?.published;
        announce(options, events);
      },
      // Once per scan, not per batch of events: a first import is hundreds of batches.
      async settled() {
        // Warm what visitors and feed readers ask for first: the home page before the feeds,
        // whose compression would otherwise hold up the page's in the thread pool.
        await pages.home();
        await feeds();
      },
    },
    generation: () => generation,
    home: pages.home,
    feed: async (format, tag) => (await feeds(tag))?.[format],
    archiveFeed: async (format, page) => (await archive(page))?.[format],
    tagPage: pages.tagPage,
    sectionPage: pages.sectionPage,
    sectionFeed: async (format, id) => {
      const view = options.sections?.find((s) => s.id === id);
      return view && (await section(view))[format];
    },
    canonicalTag: spellings.canonical,
    articlePage: (slug, replies = 1) => articlePage(build, pages, slugs, slug, replies),
    ...sitemaps(
      {
        store,
        cache,
        page: options.page,
        sectionIds: (options.sections ?? []).map((section) => section.id),
      },
      options.now ?? (() => new Date()),
    ),
    robots: makeRepresentation(renderRobots(options.page.origin), "text/plain", epoch),
    icon: { path: icon.path, body: makeRepresentation(icon.body, icon.contentType, epoch) },
    stylesheet: makeRepresentation(stylesheet, "text/css", epoch),
    notFound: pages.notFound,
    followRefused: pages.followRefused,
  };
}

/** What the builders of pages and sitemaps read from. */
interface Builders {
  readonly store: ArticleStore;
  readonly options: SiteOptions;
  readonly cache: PageCache;
  readonly pageSite: () => Promise<PageSite>;
  readonly interactionsAt: () => Promise<Date>;
}

/**
 * The site's language: `SITE_LANGUAGE`, or else the predominant one of the latest articles,
 * found again after each change (`clear()`), with the pages and feeds that speak it.
 */
function siteVoice(store: ArticleStore, options: SiteOptions, icon: SiteIcon) {
  let language: Promise<string> | undefined;
  const siteLanguage = () => {
    language ??= options.page.languageFromArticles
      ? store
          .listPublished({ limit: options.limit })
          .then((articles) => predominantLanguage(articles) ?? options.page.language)
      : Promise.resolve(options.page.language);
    return language;
  };
  return {
    clear: () => {
      language = undefined;
    },
    language: siteLanguage,
    pageSite: async (): Promise<PageSite> => ({
      ...options.page,
      icon,
      language: await siteLanguage(),
    }),
    /** The feeds speak the site's language too, with its tagline when none is configured. */
    feedSite: async (tag?: string): Promise<FeedSite> => {
      const language = await siteLanguage();
      return {
        ...feedSiteFor(options.feed, tag),
        ...(options.page.timeZone === undefined ? {} : { timeZone: options.page.timeZone }),
        language,
        description: options.page.description ?? labelsFor(language).tagline,
      };
    },
  };
}

const html = (body: string, lastModified: Date) =>
  makeRepresentationAsync(body, "text/html", lastModified);

/** The HTML pages but the article pages (`articlePage`). */
function htmlPages({ store, options, cache, pageSite }: Builders) {
  return {
    home: () =>
      cache.get("home", 0, async () => {
        const articles = await store.listPublished({ limit: options.limit });
        const changed = (await store.lastChange()) ?? epoch;
        return html(renderHomePage(await pageSite(), articles), changed);
      }),
    tagPage: (tag: string) =>
      cache.get(`tag:${tag}`, 0, async () => {
        const changed = await store.lastChange(tag);
        if (changed === undefined) return undefined;
        const articles = await store.listPublished({ limit: options.limit, tag });
        return html(renderTagPage(await pageSite(), tag, articles), changed);
      }),
    sectionPage: async (id: string) => {
      const view = options.sections?.find((s) => s.id === id);
      if (view === undefined) return undefined;
      return cache.get(`section:${id}`, 0, async () => {
        const { articles, changed } = await sectionArticles(store, view, options.limit);
        return html(renderSectionPage(await pageSite(), view, articles), changed ?? epoch);
      });
    },
    gone: () => cache.get("410", 0, async () => html(renderGonePage(await pageSite()), epoch)),
    notFound: () =>
      cache.get("404", 0, async () => html(renderNotFoundPage(await pageSite()), epoch)),
    followRefused: () =>
      cache.get("follow-400", 0, async () =>
        html(renderFollowRefusedPage(await pageSite()), epoch),
      ),
  };
}

/** An article's page with one page of its replies, kept until its interactions change. */
async function articlePage(
  { store, cache, pageSite, interactionsAt, options }: Builders,
  pages: { gone(): Promise<Representation> },
  slugs: SlugIndex,
  slug: string,
  replies: number,
): Promise<{ status: 200 | 410; body: Representation } | undefined> {
  const known = await slugs.find(slug);
  if (known?.state === "deleted") return { status: 410, body: await pages.gone() };
  if (known?.state !== "published") return undefined;
  const at = await interactionsAt();
  const body = await cache.get(
    `article:${known.id}:${known.hash}:${replies}`,
    at.getTime(),
    async () => {
      const record = await store.findBySlug(slug);
      if (record?.state !== "published") return undefined;
      const { article } = record;
      const view = await interactionsView(options.interactions, article.id, replies);
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
}

/** One page of an article's replies, newest first, with its counts. */
async function interactionsView(
  interactions: InteractionReader | undefined,
  articleId: string,
  page: number,
): Promise<InteractionsView | undefined> {
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
}

/**
 * A tag's one spelling for its URLs, by tag key; only tags that exist are remembered, so asking
 * for made-up ones fills nothing. `clear()` after each change.
 */
function tagSpellings(store: ArticleStore, limit: number) {
  const spellings = new Map<string, string>();
  return {
    clear: () => spellings.clear(),
    canonical: async (tag: string) => {
      const key = tagKey(tag);
      const known = spellings.get(key);
      if (known !== undefined) return known;
      const articles = await store.listPublished({ limit, tag });
      const spelling = mostUsed(articles.flatMap((a) => a.tags.filter((t) => tagKey(t) === key)));
      if (spelling === undefined) return tag;
      spellings.set(key, spelling);
      return spelling;
    },
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

/** Tells the WebSub hub (if any) which feeds changed; never waited for, never fails a publish. */
function announce(options: SiteOptions, events: readonly ChangeEvent[]): void {
  const hub = options.feed.hub;
  if (hub === undefined) return;
  const tags = new Set(events.flatMap((event) => event.article.tags));
  const topics = [
    ...[undefined, ...tags].flatMap((tag) =>
      Object.values(feedSiteFor(options.feed, tag).feedPaths),
    ),
    ...changedSectionFeeds(options.sections ?? [], [...tags]),
  ].map((path) => absolute(options.page.origin, path));
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
