/**
 * Which of the site's built bodies a batch of change events makes stale (issue #17): a new
 * story in a 100,000-article archive costs the home page and feeds, its tags' pages and feeds,
 * the newest archive page and the sitemaps; every other body stays built.
 */
import type { ChangeEvent } from "../article.ts";
import { tagKey } from "../store/store.ts";

/** What the site knew before the events: the newest published date, if it looked. */
export interface Before {
  readonly newest: Date | undefined;
}

/** What the site counts after the events. */
export interface After {
  /**
   * How many articles are published. Asked only when the events only add stories newer than
   * every one before: otherwise a first import of 100,000 stories counted them once for every
   * page of events, a quarter of the site's time publishing them (a CPU profile).
   */
  readonly published: () => Promise<number>;
  /** Articles per feed and per archive page. */
  readonly limit: number;
}

/**
 * A test of cache keys (`site.ts` and `site-feeds.ts` name them): whether the body under a key
 * is stale after `events`.
 */
export async function staleKeys(
  events: readonly ChangeEvent[],
  before: Before,
  after: After,
): Promise<(key: string) => boolean> {
  // An edit may have taken tags away, which its event no longer names.
  const anyTag = events.some((event) => event.type === "updated");
  const tags = new Set(events.flatMap((event) => event.article.tags.map(tagKey)));
  const firstStale = await staleArchivesFrom(events, before, after);
  return (key) => {
    if (always.has(key)) return true;
    const [kind = "", rest = ""] = splitKey(key);
    switch (kind) {
      case "tag":
        return anyTag || tags.has(tagKey(rest));
      case "feeds":
        return rest === "" || anyTag || tags.has(tagKey(rest));
      case "archive":
        return Number(rest) >= firstStale;
      case "section":
      case "section-feeds":
        return true; // a handful (`SECTIONS`), each of several tags: built again on request
      default:
        return false; // article pages are keyed by their text's hash; 404 and 410 stay
    }
  };
}

const always = new Set(["home", "sitemap", "news-sitemap"]);

function splitKey(key: string): [string, string] {
  const colon = key.indexOf(":");
  return colon === -1 ? [key, ""] : [key.slice(0, colon), key.slice(colon + 1)];
}

/**
 * The first archive page that may have changed. Archive pages are numbered from the oldest
 * (RFC 5005), so stories newer than every one before only add to the end: the newest full
 * page gains a `next` link, and a new page may appear. Anything else (an edit, a deletion,
 * a story dated in the past) may shift every page.
 */
async function staleArchivesFrom(
  events: readonly ChangeEvent[],
  before: Before,
  after: After,
): Promise<number> {
  const { newest } = before;
  const appended =
    newest !== undefined &&
    events.every(
      (event) => event.type === "created" && event.article.published.getTime() >= newest.getTime(),
    );
  if (!appended) return 1;
  const previous = (await after.published()) - events.length;
  return Math.max(1, Math.floor(previous / after.limit));
}
