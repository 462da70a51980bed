import type { Article, ChangeEvent, ParsedArticle } from "../article.ts";

/** What a scan saw of one file: size and modification time decide whether it is read again. */
export interface FileStamp {
  readonly size: number;
  readonly mtimeMs: number;
}

/** A file the scan could not use, with the reason a person can act on. */
export interface Skipped {
  readonly path: string;
  readonly reason: string;
  /** 1-based line of the problem, where known. */
  readonly line?: number | undefined;
}

/** A file read in a scan: parsed, or skipped with a reason. */
export type ScannedFile =
  | { readonly kind: "parsed"; readonly stamp: FileStamp; readonly article: ParsedArticle }
  | { readonly kind: "skipped"; readonly stamp: FileStamp; readonly skipped: Skipped };

/**
 * Part of a scan. A scan reads its new and changed files in batches, so that memory does not
 * grow with the size of the folder; each batch is applied (and durable) on its own.
 */
export interface ScanBatch {
  /** Files read in this batch. */
  readonly files: readonly ScannedFile[];
  /** Files the store knew that are no longer there (the same list for every batch of a scan). */
  readonly gone: readonly string[];
  /**
   * The scan's last batch: articles of gone files are deleted now (unless a new file turned
   * out to be the same article), and scheduled articles whose time has come are published.
   */
  readonly final: boolean;
}

export type ArticleState = "published" | "scheduled" | "draft" | "deleted";

/** An article with its state, for pages that must tell "gone" (410) from "never was" (404). */
export interface ArticleRecord {
  readonly article: Article;
  readonly state: ArticleState;
}

/** An article with what only the store knows about it. */
export interface StoredArticle extends ArticleRecord {
  /** The slug came from front matter, so it identifies the article across renames. */
  readonly explicitSlug: boolean;
  /** When the article's file was first seen; a plain-text article's publication date. */
  readonly firstSeen: Date;
}

/** The scan lock, held; see `ArticleStore.tryLockScan()`. */
export interface ScanLock {
  /** Gives the lock up. Safe to call more than once; never throws. */
  release(): Promise<void>;
}

/** Where a published article is and when it last changed: what a sitemap lists. */
export interface PublishedLink {
  readonly slug: string;
  readonly updated: Date;
}

export interface ListOptions {
  readonly limit?: number;
  /** Matched whatever its case (`tagKey()`): fediverse hashtags are case-insensitive. */
  readonly tag?: string | undefined;
}

/**
 * Orders files and articles by path, code unit by code unit (as SQLite compares text), so that a
 * scan reads, stores and announces them in one order whatever order the folder listed them in.
 */
export function byPath(a: { readonly path: string }, b: { readonly path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * What tags compare by: their Unicode lower case (`Haushalt`, `haushalt` and `HAUSHALT` are
 * one tag, so are `Übersicht` and `ÜBERSICHT`). PostgreSQL's `lower()` does the same in a
 * UTF-8 database.
 */
export function tagKey(tag: string): string {
  return tag.normalize("NFC").toLowerCase();
}

/**
 * How many change events `pending()` gives a publisher at once. The pipeline reads and decodes
 * each page whole, once per publisher: while `npm start` published a first import of 100,000
 * stories, its heap grew to 190 MB (collected every 200 ms) in pages of 500, and stayed at
 * 107 MB in pages of 200 (`--trace-gc`), in the same time.
 */
export const EVENTS_PER_PAGE = 200;

/**
 * The durable state: articles, the files they came from, and the log of change events
 * with a delivery cursor per publisher (`Publisher` in pipeline.ts, by name). SQLite and
 * PostgreSQL implement it (`backends/sqlite/articles.ts`, `backends/postgres/articles.ts`).
 */
export interface ArticleStore {
  /**
   * Stamps of the files last read, keyed by path relative to `ARTICLES_DIR`: all of them, or
   * those of `paths` the store knows.
   */
  fileStamps(paths?: readonly string[]): Promise<ReadonlyMap<string, FileStamp>>;
  /** Records one batch of a scan and returns the change events it caused, already durable. */
  apply(batch: ScanBatch, now: Date): Promise<readonly ChangeEvent[]>;
  /** Registers a publisher of change events; a new one starts after the latest event. */
  subscribe(publisher: string): Promise<void>;
  /** Up to `limit` (`EVENTS_PER_PAGE`) change events after the publisher's cursor, oldest first. */
  pending(publisher: string, limit?: number): Promise<readonly ChangeEvent[]>;
  /**
   * Moves the publisher's cursor: events up to `seq` were handled successfully. Events
   * every publisher has handled are forgotten.
   */
  markDelivered(publisher: string, seq: number): Promise<void>;
  /** Published articles, newest first. */
  listPublished(options?: ListOptions): Promise<readonly Article[]>;
  /**
   * The newest `limit` published articles' slugs and dates, newest first, read from indexed
   * columns without any article's text: a sitemap of 50,000 costs no article decoded.
   */
  listPublishedLinks(limit: number): Promise<readonly PublishedLink[]>;
  countPublished(): Promise<number>;
  /**
   * When the first scan was recorded (even if it found nothing): what it found was already
   * there before Herald, an import rather than news.
   */
  firstScan(): Promise<Date | undefined>;
  /**
   * When the published set last changed (an article published, edited or deleted), overall or
   * for one tag (whatever its case): the newest `updated` of published and deleted articles.
   */
  lastChange(tag?: string): Promise<Date | undefined>;
  findBySlug(slug: string): Promise<ArticleRecord | undefined>;
  findById(id: string): Promise<ArticleRecord | undefined>;
  /** Every article the store knows, any state, for `articles:check`. */
  listAll(): Promise<readonly ArticleRecord[]>;
  /**
   * Takes the scan lock if it is free, so that one scan (and its deliveries) runs at a time
   * across every process and store instance sharing this store's data. Resolves at once: to
   * `undefined` while anyone holds it, this same instance included (it is not re-entrant).
   *
   * The lock is held until `release()`, `close()`, or the death of the holder: it belongs to
   * the holder's process (SQLite: an OS file lock) or database session (PostgreSQL: a session
   * advisory lock), so a crashed or killed holder frees it without any timeout. A lost
   * session (PostgreSQL restarted) frees it too, while the holder may still be scanning:
   * the lock saves duplicate work; `apply()` is safe without it.
   */
  tryLockScan(): Promise<ScanLock | undefined>;
  /** Closes the store, releasing a scan lock it still holds. */
  close(): Promise<void>;
}
