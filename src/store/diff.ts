import type { Article, ArticleChange, ParsedArticle } from "../article.ts";
import { type ArticleState, byPath, type StoredArticle } from "./store.ts";

/** What the store knows that bears on one scan; gathered by the store, judged here. */
export interface DiffInput {
  /** Files read this scan that parsed, in any order. */
  readonly parsed: readonly ParsedArticle[];
  /** The live (not deleted) article each re-read path belonged to. */
  readonly byPath: ReadonlyMap<string, StoredArticle>;
  /**
   * Live articles whose file is gone this scan: candidates for a renamed file, and deleted
   * when `final` (the scan's last batch) if none was.
   */
  readonly vanished: readonly StoredArticle[];
  readonly final: boolean;
  /** Scheduled articles whose time has come. */
  readonly due: readonly StoredArticle[];
  /** The live article using a slug, if any. */
  readonly slugOwner: (slug: string) => string | undefined;
  readonly now: Date;
  readonly newId: () => string;
}

export interface DiffResult {
  /** Articles to write, new or changed (including those turned into tombstones). */
  readonly writes: readonly StoredArticle[];
  /** The change events, in order. */
  readonly changes: readonly ArticleChange[];
  /** Which article each parsed path now yields. */
  readonly links: ReadonlyMap<string, string>;
  /** Vanished articles a new file turned out to be (renamed or moved). */
  readonly claimed: ReadonlySet<string>;
}

/**
 * Decides what a scan changed. Pure: the same input gives the same result.
 *
 * - A file seen for the first time is a new article (`created` once it is publishable).
 * - A file whose content or slug changed updates its article (`updated` if published).
 * - A file gone, or a published article turned into a draft or moved to the future, is
 *   `deleted`; its id is never used again (a later return is a new article).
 * - A new file with the same text or the same front-matter slug as a vanished one is the
 *   vanished article, renamed or moved.
 */
export function diffArticles(input: DiffInput): DiffResult {
  const { now } = input;
  const writes = new Map<string, StoredArticle>();
  const changes: ArticleChange[] = [];
  const links = new Map<string, string>();
  // Slugs taken or freed by this scan, over what the store knows.
  const slugs = new Map<string, string | undefined>();
  const ownerOf = (slug: string) => (slugs.has(slug) ? slugs.get(slug) : input.slugOwner(slug));
  const unclaimed = [...input.vanished];

  const write = (record: StoredArticle) => {
    writes.set(record.article.id, record);
    return record;
  };
  // A deleted article keeps its last version, dated with its deletion: feeds that lost it
  // changed then, and its Tombstone says when.
  const retire = (record: StoredArticle) => {
    slugs.set(record.article.slug, undefined);
    const article = { ...record.article, updated: later(now, record.article.updated, 1) };
    write({ ...record, state: "deleted", article });
    if (record.state === "published") changes.push({ type: "deleted", article });
  };
  const uniqueSlug = (wanted: string, id: string) => {
    let slug = wanted;
    for (let n = 2; ![undefined, id].includes(ownerOf(slug)); n++) slug = `${wanted}-${n}`;
    slugs.set(slug, id);
    return slug;
  };

  const sorted = [...input.parsed].sort(byPath);
  for (const parsed of sorted) {
    const previous = input.byPath.get(parsed.path) ?? claimRenamed(parsed, unclaimed);
    const state = stateOf(parsed, now);
    if (previous === undefined || (previous.state === "published" && state !== "published")) {
      if (previous) retire(previous);
      const id = input.newId();
      const record = write(fresh(parsed, id, uniqueSlug(parsed.slug, id), state, now));
      if (state === "published") changes.push({ type: "created", article: record.article });
      links.set(parsed.path, id);
      continue;
    }
    const id = previous.article.id;
    if (previous.article.slug !== parsed.slug) slugs.set(previous.article.slug, undefined);
    const slug = uniqueSlug(parsed.slug, id);
    const edited = previous.article.hash !== parsed.hash || previous.article.slug !== slug;
    const record = revise(previous, parsed, slug, state, edited, now);
    if (edited || previous.article.path !== parsed.path || previous.state !== state) write(record);
    if (previous.state !== "published" && state === "published") {
      changes.push({ type: "created", article: record.article });
    } else if (state === "published" && edited) {
      changes.push({ type: "updated", article: record.article });
    }
    links.set(parsed.path, id);
  }

  if (input.final) for (const record of unclaimed) retire(record);

  for (const record of input.due) {
    if (writes.has(record.article.id)) continue;
    const published = write({ ...record, state: "published" });
    changes.push({ type: "created", article: published.article });
  }

  const claimed = new Set(
    input.vanished.filter((r) => !unclaimed.includes(r)).map((r) => r.article.id),
  );
  return { writes: [...writes.values()], changes, links, claimed };
}

function stateOf(parsed: ParsedArticle, now: Date): ArticleState {
  if (parsed.draft) return "draft";
  if (parsed.date && parsed.date > now) return "scheduled";
  return "published";
}

/** Takes the vanished article a new file continues, if any: same front-matter slug, else same text. */
function claimRenamed(
  parsed: ParsedArticle,
  unclaimed: StoredArticle[],
): StoredArticle | undefined {
  const index = parsed.explicitSlug
    ? unclaimed.findIndex((r) => r.explicitSlug && r.article.slug === parsed.slug)
    : -1;
  const at = index !== -1 ? index : unclaimed.findIndex((r) => r.article.hash === parsed.hash);
  if (at === -1) return undefined;
  return unclaimed.splice(at, 1)[0];
}

function fresh(
  parsed: ParsedArticle,
  id: string,
  slug: string,
  state: ArticleState,
  now: Date,
): StoredArticle {
  const published = parsed.date ?? now;
  return {
    article: toArticle(parsed, id, slug, published, later(published, parsed.updated)),
    state,
    explicitSlug: parsed.explicitSlug,
    firstSeen: now,
  };
}

function revise(
  previous: StoredArticle,
  parsed: ParsedArticle,
  slug: string,
  state: ArticleState,
  edited: boolean,
  now: Date,
): StoredArticle {
  // A plain-text article (no date of its own) keeps the date it was first seen, forever.
  const published = parsed.date ?? previous.firstSeen;
  const updated =
    state !== "published" || previous.state !== "published"
      ? later(published, parsed.updated)
      : edited
        ? // Each edit must carry a newer `updated`, or fediverse servers ignore the Update.
          parsed.updated && parsed.updated > previous.article.updated
          ? parsed.updated
          : later(now, previous.article.updated, 1)
        : previous.article.updated;
  return {
    article: toArticle(parsed, previous.article.id, slug, published, updated),
    state,
    explicitSlug: parsed.explicitSlug,
    firstSeen: previous.firstSeen,
  };
}

function later(date: Date, other: Date | undefined, atLeastMs = 0): Date {
  if (other === undefined) return date;
  const floor = other.getTime() + atLeastMs;
  return date.getTime() >= floor ? date : new Date(floor);
}

function toArticle(
  parsed: ParsedArticle,
  id: string,
  slug: string,
  published: Date,
  updated: Date,
): Article {
  return {
    id,
    path: parsed.path,
    slug,
    title: parsed.title,
    summary: parsed.summary,
    contentHtml: parsed.contentHtml,
    language: parsed.language,
    tags: parsed.tags,
    ...(parsed.image ? { image: parsed.image } : {}),
    ...(parsed.author ? { author: parsed.author } : {}),
    ...(parsed.authorFediverse ? { authorFediverse: parsed.authorFediverse } : {}),
    pinned: parsed.pinned,
    ...(parsed.corrections?.length ? { corrections: parsed.corrections } : {}),
    published,
    updated,
    hash: parsed.hash,
  };
}
