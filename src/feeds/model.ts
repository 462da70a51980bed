import type { Article } from "../article.ts";
import { correctionNotesHtml } from "../correction-notes.ts";
import { absoluteUrls, articleLinks, imageType } from "../links.ts";
import { absolute } from "../urls.ts";
import { textToHtml, xmlSafe } from "./xml.ts";

export interface FeedPaths {
  readonly rss: string;
  readonly atom: string;
  readonly json: string;
}

/** RFC 5005 archived feeds: the links from one document to its neighbours. */
export interface FeedArchive {
  /** An archive page (fixed; `fh:archive`), not the current feed. */
  readonly isArchive: boolean;
  /** The next older archive page. */
  readonly prev?: FeedPaths;
  /** The next newer archive page (archive pages only). */
  readonly next?: FeedPaths;
  /** The current feeds (archive pages only). */
  readonly current?: FeedPaths;
}

/** Who publishes a set of feeds and where they live: the home feeds, or one tag's. */
export interface FeedSite {
  /** `PUBLIC_URL`. */
  readonly origin: URL;
  readonly title: string;
  readonly description: string;
  /** BCP 47 tag of the site, e.g. `de`. */
  readonly language: string;
  /** Author of articles that name none. */
  readonly author: string;
  /** Path of the HTML page the feeds mirror: `paths.home`, or `paths.tag(tag)`. */
  readonly homePath: string;
  /** Paths of the three feeds: `paths.rss` …, or `paths.tagRss(tag)` …. */
  readonly feedPaths: FeedPaths;
  /** A WebSub hub that subscribers are pointed to. */
  readonly hub?: URL;
  readonly archive?: FeedArchive;
  /** Set for a tag's feeds: it is added to the feed title. */
  readonly tag?: string;
  /**
   * The last change to these feeds, if later than their newest article: a removal changes a
   * feed but leaves no article behind to date it.
   */
  readonly changed?: Date;
  /** `TIME_ZONE`, for the dates of correction notices; default UTC. */
  readonly timeZone?: string;
}

/** The feed-level data every format writes. */
export interface FeedHead {
  readonly title: string;
  readonly description: string;
  readonly language: string;
  readonly author: string;
  readonly home: URL;
  readonly self: { readonly rss: URL; readonly atom: URL; readonly json: URL };
  readonly hub?: URL;
  readonly archive?: FeedArchive;
  /** The newest article date; never "now", so equal input gives equal bytes. */
  readonly updated: Date;
}

/** One article as every format writes it, with text already safe for XML. */
export interface FeedEntry {
  readonly id: URL;
  readonly url: URL;
  readonly title: string;
  readonly summary: string;
  readonly contentHtml: string;
  readonly language: string;
  readonly tags: readonly string[];
  readonly author: string;
  readonly published: Date;
  readonly updated: Date;
  readonly image?: { readonly url: URL; readonly type: string; readonly alt?: string };
  /** Replies, likes and boosts from the fediverse (JSON Feed only). */
  readonly counts?: EntryCounts;
}

export interface EntryCounts {
  readonly replies: number;
  readonly likes: number;
  readonly boosts: number;
  readonly quotes: number;
}

/** Newest first by publication date; the id breaks ties so the order never depends on input order. */
export function newestFirst(a: Article, b: Article): number {
  return b.published.getTime() - a.published.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function toFeedEntry(article: Article, site: FeedSite): FeedEntry {
  const links = articleLinks(article, site.origin);
  const summary = xmlSafe(article.summary);
  const notes = correctionNotesHtml(article, site.timeZone ?? "UTC");
  const contentHtml = xmlSafe(absoluteUrls(article.contentHtml, site.origin));
  const entry: FeedEntry = {
    id: links.id,
    url: links.url,
    title: xmlSafe(article.title),
    summary,
    // Readers show the content when there is one; an empty body would hide the summary.
    contentHtml:
      (contentHtml.trim() === "" ? `<p>${textToHtml(summary)}</p>` : contentHtml) +
      (notes === "" ? "" : `\n${xmlSafe(notes)}`),
    language: article.language,
    tags: article.tags.map(xmlSafe),
    author: xmlSafe(article.author ?? site.author),
    published: article.published,
    updated: latest(article.published, article.updated),
  };
  if (links.image === undefined) return entry;
  const alt = links.imageAlt;
  return {
    ...entry,
    image: {
      url: links.image,
      type: imageType(links.image) ?? "application/octet-stream",
      ...(alt === undefined ? {} : { alt: xmlSafe(alt) }),
    },
  };
}

export function toFeedHead(site: FeedSite, entries: readonly FeedEntry[]): FeedHead {
  const title = xmlSafe(site.tag === undefined ? site.title : `${site.title}: ${site.tag}`);
  const updated = entries.reduce(
    (newest, entry) => latest(newest, entry.updated),
    site.changed ?? new Date(0),
  );
  return {
    title,
    description: xmlSafe(site.description),
    language: site.language,
    author: xmlSafe(site.author),
    home: absolute(site.origin, site.homePath),
    self: {
      rss: absolute(site.origin, site.feedPaths.rss),
      atom: absolute(site.origin, site.feedPaths.atom),
      json: absolute(site.origin, site.feedPaths.json),
    },
    ...(site.hub === undefined ? {} : { hub: site.hub }),
    ...(site.archive === undefined ? {} : { archive: site.archive }),
    updated,
  };
}

function latest(a: Date, b: Date): Date {
  return b.getTime() > a.getTime() ? b : a;
}

export function entryAt(entries: readonly FeedEntry[], index: number): FeedEntry {
  const entry = entries[index];
  if (entry === undefined) throw new RangeError(`No feed entry at ${index}.`);
  return entry;
}
