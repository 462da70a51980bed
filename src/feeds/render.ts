import type { Article } from "../article.ts";
import { paths } from "../urls.ts";
import { renderAtom } from "./atom.ts";
import { renderJsonFeed } from "./json-feed.ts";
import { type EntryCounts, type FeedSite, newestFirst, toFeedEntry, toFeedHead } from "./model.ts";
import { renderRss } from "./rss.ts";

export type { FeedSite } from "./model.ts";

/** The three documents of one set of feeds, rendered once per change. */
export interface RenderedFeeds {
  readonly rss: string;
  readonly atom: string;
  readonly json: string;
  /** The newest article date (`new Date(0)` with no articles): use it as Last-Modified. */
  readonly updated: Date;
}

/** Media types to serve the documents with. */
export const feedContentTypes = {
  rss: "application/rss+xml; charset=utf-8",
  atom: "application/atom+xml; charset=utf-8",
  json: "application/feed+json; charset=utf-8",
} as const;

/**
 * Renders RSS 2.0, Atom 1.0 and JSON Feed 1.1 from exactly the given articles (the caller passes
 * the latest N), newest first. Pure: equal input gives equal bytes.
 */
export function renderFeeds(
  articles: readonly Article[],
  site: FeedSite,
  counts?: ReadonlyMap<string, EntryCounts>,
): RenderedFeeds {
  const entries = [...articles].sort(newestFirst).map((article) => {
    const entry = toFeedEntry(article, site);
    const counted = counts?.get(article.id);
    return counted === undefined ? entry : { ...entry, counts: counted };
  });
  const head = toFeedHead(site, entries);
  return {
    rss: renderRss(head, entries),
    atom: renderAtom(head, entries),
    json: renderJsonFeed(head, entries),
    updated: head.updated,
  };
}

/** The site's feed settings, without where the feeds live. */
export type FeedSiteBase = Omit<FeedSite, "homePath" | "feedPaths" | "tag" | "changed">;

/** `base` as the home feeds' site, or as one tag's (a `FeedSite` when `base` is a `FeedSiteBase`). */
export function feedSiteFor<Base extends object>(
  base: Base,
  tag?: string,
): Base & Pick<FeedSite, "homePath" | "feedPaths" | "tag"> {
  if (tag === undefined) {
    return {
      ...base,
      homePath: paths.home,
      feedPaths: { rss: paths.rss, atom: paths.atom, json: paths.json },
    };
  }
  return {
    ...base,
    tag,
    homePath: paths.tag(tag),
    feedPaths: { rss: paths.tagRss(tag), atom: paths.tagAtom(tag), json: paths.tagJson(tag) },
  };
}
