import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { Article, ChangeEvent } from "../../article.ts";
import { type ApplyTransaction, applyBatchSync } from "../../store/apply.ts";
import { decodeArticle, encodeArticle } from "../../store/codec.ts";
import type {
  ArticleRecord,
  ArticleState,
  ArticleStore,
  FileStamp,
  ListOptions,
  PublishedLink,
  ScanBatch,
  ScanLock,
  StoredArticle,
} from "../../store/store.ts";
import { EVENTS_PER_PAGE, tagKey } from "../../store/store.ts";
import { createArticleTables, putArticles, REFERS_TO_ARTICLE } from "./article-tables.ts";

interface ArticleRow {
  readonly data: string;
  readonly state: string;
  readonly explicit_slug: number;
  readonly first_seen: string;
}

/** How much write-ahead log SQLite gathers before copying it into the database file. */
const WAL_CHECKPOINT_BYTES = 64 * 1024 * 1024;

/**
 * The article store in SQLite (`node:sqlite`). Takes an open database, so Fedify's
 * KV store and queue can share the same file.
 */
export class SqliteArticleStore implements ArticleStore {
  readonly #db: DatabaseSync;
  readonly #held = new Set<ScanLock>();

  constructor(db: DatabaseSync) {
    this.#db = db;
    // 16 KiB pages in a new database (an existing one keeps its own: SQLite sets the size when
    // the first table is written). An article's row (its JSON, with the page's HTML) is a few
    // KiB: on SQLite's default 4 KiB pages one row took a page and left a third of it empty,
    // and long stories spilled into overflow pages. A first import of 10,000 articles wrote a
    // fifth less (53 -> 41 MB) and took 15% less time.
    db.exec("PRAGMA page_size = 16384");
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    // A checkpoint (copying the write-ahead log into the database file, then an fsync) every
    // 64 MiB of log instead of every 4 MiB: a large import waited on a disk flush every other
    // batch, and index pages that every batch changes were written out every time.
    const pageSize = Number(db.prepare("PRAGMA page_size").get()?.page_size);
    db.exec(`PRAGMA wal_autocheckpoint = ${Math.round(WAL_CHECKPOINT_BYTES / pageSize)}`);
    // SQLite's lower() folds ASCII only; tags compare by the same key everywhere (`tagKey()`).
    db.function("herald_tag_key", { deterministic: true }, (tag) =>
      typeof tag === "string" ? tagKey(tag) : null,
    );
    createArticleTables(db);
  }

  async fileStamps(paths?: readonly string[]): Promise<ReadonlyMap<string, FileStamp>> {
    const select = "SELECT path, size, mtime_ms FROM files";
    type Row = { path: string; size: number; mtime_ms: number };
    const stamps = new Map<string, FileStamp>();
    const keep = (rows: Iterable<unknown>) => {
      for (const r of rows as Iterable<Row>)
        stamps.set(r.path, { size: r.size, mtimeMs: r.mtime_ms });
    };
    // Row by row: 100,000 rows at once would sit in memory beside the map made of them.
    if (paths === undefined) keep(this.#db.prepare(select).iterate());
    for (const chunk of paths === undefined ? [] : chunks(paths)) {
      keep(
        this.#db
          .prepare(`${select} WHERE path IN (${chunk.map(() => "?").join(",")})`)
          .iterate(...chunk),
      );
    }
    return stamps;
  }

  async apply(batch: ScanBatch, now: Date): Promise<readonly ChangeEvent[]> {
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      const events = applyBatchSync(this.#transaction(), batch, now);
      db.exec("COMMIT");
      return events;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  async subscribe(subscriber: string): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO cursors (subscriber, seq)
         VALUES (?, (SELECT coalesce(max(seq), 0) FROM events)) ON CONFLICT DO NOTHING`,
      )
      .run(subscriber);
  }

  async pending(subscriber: string, limit = EVENTS_PER_PAGE): Promise<readonly ChangeEvent[]> {
    const rows = this.#db
      .prepare(
        `SELECT e.seq, e.at, e.type, iif(e.data = '', a.data, e.data) AS data FROM events AS e
         LEFT JOIN articles AS a ON e.data = '' AND a.id = e.article_id
         WHERE e.seq > (SELECT seq FROM cursors WHERE subscriber = ?) ORDER BY e.seq LIMIT ?`,
      )
      .all(subscriber, limit) as { seq: number; at: string; type: string; data: string }[];
    return rows.map((r) => ({
      type: r.type as ChangeEvent["type"],
      article: decodeArticle(r.data),
      seq: r.seq,
      at: new Date(r.at),
    }));
  }

  async markDelivered(subscriber: string, seq: number): Promise<void> {
    const db = this.#db;
    db.prepare("UPDATE cursors SET seq = max(seq, ?) WHERE subscriber = ?").run(seq, subscriber);
    db.prepare("DELETE FROM events WHERE seq <= (SELECT min(seq) FROM cursors)").run();
  }

  async listPublished(options: ListOptions = {}): Promise<readonly Article[]> {
    const limit = options.limit ?? -1;
    const rows = (
      options.tag === undefined
        ? this.#db
            .prepare(
              "SELECT data FROM articles WHERE state = 'published' ORDER BY published DESC, id LIMIT ?",
            )
            .all(limit)
        : this.#db
            .prepare(
              `SELECT a.data FROM article_tags AS t JOIN articles AS a ON a.id = t.article_id
               WHERE t.tag_key = ? AND t.state = 'published'
               ORDER BY t.published DESC, t.article_id LIMIT ?`,
            )
            .all(tagKey(options.tag), limit)
    ) as { data: string }[];
    return rows.map((r) => decodeArticle(r.data));
  }

  async countPublished(): Promise<number> {
    const row = this.#db
      .prepare("SELECT count(*) AS n FROM articles WHERE state = 'published'")
      .get() as { n: number };
    return row.n;
  }

  async firstScan(): Promise<Date | undefined> {
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = 'first_scan'").get() as
      | { value: string }
      | undefined;
    return row ? new Date(row.value) : undefined;
  }

  async lastChange(tag?: string): Promise<Date | undefined> {
    // One index look-up per state: the newest `updated` of published and of deleted articles.
    const newest =
      tag === undefined
        ? "SELECT max(updated) AS t FROM articles WHERE state = ?"
        : "SELECT max(updated) AS t FROM article_tags WHERE state = ? AND tag_key = ?";
    const key = tag === undefined ? [] : [tagKey(tag)];
    const row = this.#db
      .prepare(`SELECT max(t) AS t FROM (${newest} UNION ALL ${newest})`)
      .get("published", ...key, "deleted", ...key) as { t: string | null };
    return row.t ? new Date(row.t) : undefined;
  }

  async listPublishedLinks(limit: number): Promise<readonly PublishedLink[]> {
    const rows = this.#db
      .prepare(
        `SELECT slug, updated FROM articles INDEXED BY articles_listing
         WHERE state = 'published' ORDER BY published DESC, id LIMIT ?`,
      )
      .all(limit) as { slug: string; updated: string }[];
    return rows.map((r) => ({ slug: r.slug, updated: new Date(r.updated) }));
  }

  async findBySlug(slug: string): Promise<ArticleRecord | undefined> {
    // A live article wins over a deleted one that had the same slug.
    const [record] = this.#select(
      "WHERE slug = ? ORDER BY state = 'deleted', published DESC LIMIT 1",
      slug,
    );
    return record;
  }

  async findById(id: string): Promise<ArticleRecord | undefined> {
    return this.#byIds([id])[0];
  }

  async listAll(): Promise<readonly ArticleRecord[]> {
    return this.#select("ORDER BY published DESC");
  }

  async tryLockScan(): Promise<ScanLock | undefined> {
    const file = this.#db.location();
    // An in-memory database is this connection's alone: a lock in this object is enough.
    if (file === null) return this.#held.size > 0 ? undefined : this.#hold(async () => {});
    // The lock is a write transaction left open on a file of its own next to the database
    // (on the database itself it would stop every writer). SQLite takes it with an OS file
    // lock, which other connections see (in this process too) and which the OS drops when
    // the process dies, however it dies.
    const lockDb = new DatabaseSync(`${file}-scanlock`, { timeout: 0 });
    try {
      lockDb.exec("BEGIN IMMEDIATE");
    } catch (error) {
      lockDb.close();
      if (isBusy(error)) return undefined;
      throw error;
    }
    return this.#hold(async () => lockDb.close()); // closing rolls back and unlocks
  }

  #hold(unlock: () => Promise<void>): ScanLock {
    let released = false;
    const lock: ScanLock = {
      release: async () => {
        if (released) return;
        released = true;
        this.#held.delete(lock);
        await unlock();
      },
    };
    this.#held.add(lock);
    return lock;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#held].map((lock) => lock.release()));
    if (this.#db.isOpen) this.#db.close();
  }

  /** The reads and writes of `applyBatchSync()`, on this connection (inside its transaction). */
  #transaction(): ApplyTransaction {
    const db = this.#db;
    const json = new Map<Article, string>(); // an article written and announced is encoded once
    const written = new Map<string, string>(); // the rows written, by article id
    const encode = (article: Article) => {
      const data = json.get(article) ?? encodeArticle(article);
      json.set(article, data);
      return data;
    };
    return {
      recordFirstScan: (at) => {
        db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('first_scan', ?)").run(
          at.toISOString(),
        );
      },
      links: (paths) => this.#links(paths),
      due: (now) => this.#select("WHERE state = 'scheduled' AND published <= ?", now.toISOString()),
      byIds: (ids) => this.#byIds(ids),
      slugOwners: () => {
        const owner = db.prepare("SELECT id FROM articles WHERE slug = ? AND state != 'deleted'");
        return (slug) => (owner.get(slug) as { id: string } | undefined)?.id;
      },
      putFiles: (rows) => {
        const put = db.prepare(
          `INSERT INTO files (path, size, mtime_ms, article_id, problem) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
             article_id = excluded.article_id, problem = excluded.problem`,
        );
        for (const { path, stamp, articleId, problem } of rows) {
          put.run(path, stamp.size, stamp.mtimeMs, articleId ?? null, problem ?? null);
        }
      },
      deleteFiles: (paths) => this.#deleteFiles(paths),
      putArticles: (records) =>
        putArticles(db, records, (article) => {
          const data = encode(article);
          written.set(article.id, data);
          return data;
        }),
      appendEvents: (changes, at) => {
        const put = db.prepare(
          "INSERT INTO events (at, type, data, article_id) VALUES (?, ?, ?, ?)",
        );
        return changes.map(({ type, article }) => {
          const data = encode(article);
          // The article's row, written in this transaction, is the event's article: no copy.
          const refers = written.get(article.id) === data;
          const row = put.run(
            at.toISOString(),
            type,
            refers ? REFERS_TO_ARTICLE : data,
            article.id,
          );
          return Number(row.lastInsertRowid);
        });
      },
    };
  }

  /** The article each of `paths` yields, for the paths the store knows and that yield one. */
  #links(paths: readonly string[]): Map<string, string> {
    const links = new Map<string, string>();
    for (const chunk of chunks(paths)) {
      const rows = this.#db
        .prepare(
          `SELECT path, article_id FROM files
           WHERE article_id IS NOT NULL AND path IN (${chunk.map(() => "?").join(",")})`,
        )
        .all(...chunk) as { path: string; article_id: string }[];
      for (const row of rows) links.set(row.path, row.article_id);
    }
    return links;
  }

  #deleteFiles(paths: readonly string[]): void {
    const statement = this.#db.prepare("DELETE FROM files WHERE path = ?");
    for (const path of paths) statement.run(path);
  }

  #byIds(ids: readonly string[]): StoredArticle[] {
    return chunks(ids).flatMap((chunk) =>
      this.#select(`WHERE id IN (${chunk.map(() => "?").join(",")})`, ...chunk),
    );
  }

  #select(where: string, ...params: SQLInputValue[]): StoredArticle[] {
    const rows = this.#db
      .prepare(`SELECT data, state, explicit_slug, first_seen FROM articles ${where}`)
      .all(...params) as unknown as ArticleRow[];
    return rows.map((r) => ({
      article: decodeArticle(r.data),
      state: r.state as ArticleState,
      explicitSlug: r.explicit_slug === 1,
      firstSeen: new Date(r.first_seen),
    }));
  }
}

/** SQLITE_BUSY (5), in any of its extended forms. */
function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" && (code & 0xff) === 5;
}

/** Splits a list for `IN (…)`: SQLite limits the number of parameters of one statement. */
function chunks<T>(items: readonly T[], size = 500): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

/** The article store in `db` (its tables created if missing); `close()` closes `db`. */
export function openSqliteArticleStore(db: DatabaseSync): SqliteArticleStore {
  return new SqliteArticleStore(db);
}
