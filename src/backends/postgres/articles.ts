import { getLogger } from "@logtape/logtape";
import postgres from "postgres";
import type { Article, ChangeEvent } from "../../article.ts";
import { type ApplyTransaction, applyBatch } from "../../store/apply.ts";
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
import { EVENTS_PER_PAGE } from "../../store/store.ts";
import { createArticleTables } from "./article-tables.ts";
import { tryAdvisoryLock } from "./scan-lock.ts";

const logger = getLogger(["herald", "store"]);

type Sql = postgres.Sql;
type Queryable = postgres.ISql;

export interface PostgresStoreOptions {
  /**
   * Schema for Herald's tables, created if missing. Default: the connection's current
   * schema (normally `public`). Letters, digits and `_` only.
   */
  readonly schema?: string;
  /** Connections in the pool (default 10); a held scan lock takes one more. */
  readonly max?: number;
  /**
   * A client on `url` to share (`connectPostgres()`), instead of a pool of the store's own:
   * it stays the caller's, and `close()` leaves it open. `schema` and `max` do not apply.
   */
  readonly sql?: Sql;
}

/**
 * Connects to PostgreSQL at `url` and creates Herald's tables if they are missing. Safe when
 * several processes start at once. The store owns its connection pool: `close()` ends it.
 */
export async function openPostgresArticleStore(
  url: URL,
  options: PostgresStoreOptions = {},
): Promise<PostgresArticleStore> {
  const { schema } = options;
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) {
    throw new Error(`A schema name must be letters, digits and _ (got "${schema}").`);
  }
  if (options.sql !== undefined) {
    return new PostgresArticleStore(
      options.sql,
      await createArticleTables(options.sql, undefined),
      url,
      {
        shared: true,
      },
    );
  }
  const sql = postgres(url.href, {
    max: options.max ?? 10,
    // postgres prints notices (`… already exists, skipping`) with console.log by default.
    onnotice: (notice) => logger.debug("PostgreSQL: {message}", { message: notice.message }),
    connection: {
      application_name: "herald",
      ...(schema === undefined ? {} : { search_path: `"${schema}"` }),
    },
  });
  try {
    return new PostgresArticleStore(sql, await createArticleTables(sql, schema), url);
  } catch (error) {
    await sql.end();
    throw error;
  }
}

interface ArticleRow {
  readonly data: string;
  readonly state: string;
  readonly explicit_slug: boolean;
  readonly first_seen: Date;
}

/** The article store in PostgreSQL, shared by every process given the same database and schema. */
export class PostgresArticleStore implements ArticleStore {
  readonly #sql: Sql;
  readonly #url: URL;
  /** Whether `#sql` is the caller's, left open by `close()`. */
  readonly #shared: boolean;
  /** Advisory lock names, per schema: stores in other schemas of the database are unrelated. */
  readonly #applyLock: string;
  readonly #scanLock: string;
  readonly #held = new Set<ScanLock>();

  /**
   * Use `openPostgresArticleStore()`: the tables must exist in `schema`, on the search path
   * of `sql`'s connections; `url` is the database `sql` connects to, for the scan lock.
   */
  constructor(sql: Sql, schema: string, url: URL, { shared = false } = {}) {
    this.#sql = sql;
    this.#url = url;
    this.#shared = shared;
    this.#applyLock = `herald:apply:${schema}`;
    this.#scanLock = `herald:scan:${schema}`;
  }

  async fileStamps(paths?: readonly string[]): Promise<ReadonlyMap<string, FileStamp>> {
    const sql = this.#sql;
    const only = paths === undefined ? sql`` : sql`WHERE path = ANY(${paths as string[]}::text[])`;
    const rows = await sql<{ path: string; size: string; mtime_ms: number }[]>`
      SELECT path, size, mtime_ms FROM herald_files ${only}`;
    return new Map(rows.map((r) => [r.path, { size: Number(r.size), mtimeMs: r.mtime_ms }]));
  }

  async apply(batch: ScanBatch, now: Date): Promise<readonly ChangeEvent[]> {
    return await this.#sql.begin(async (tx) => {
      // One apply() at a time per store, across processes: a second one applying the same
      // scan waits, then sees the first one's articles and finds nothing new. It also makes
      // events commit in `seq` order, which cursors rely on: a reader never sees seq 8
      // before seq 7 (identity values are taken before commit).
      await tx`SELECT pg_advisory_xact_lock(hashtextextended(${this.#applyLock}, 0))`;
      return await applyBatch(this.#transaction(tx), batch, now);
    });
  }

  async subscribe(subscriber: string): Promise<void> {
    await this.#sql`
      INSERT INTO herald_cursors (subscriber, seq)
      VALUES (${subscriber}, (SELECT coalesce(max(seq), 0) FROM herald_events))
      ON CONFLICT DO NOTHING`;
  }

  async pending(subscriber: string, limit = EVENTS_PER_PAGE): Promise<readonly ChangeEvent[]> {
    const rows = await this.#sql<{ seq: string; at: Date; type: string; data: string }[]>`
      SELECT seq, at, type, data FROM herald_events
      WHERE seq > (SELECT seq FROM herald_cursors WHERE subscriber = ${subscriber})
      ORDER BY seq LIMIT ${limit}`;
    return rows.map((r) => ({
      type: r.type as ChangeEvent["type"],
      article: decodeArticle(r.data),
      seq: Number(r.seq),
      at: r.at,
    }));
  }

  async markDelivered(subscriber: string, seq: number): Promise<void> {
    await this.#sql`
      UPDATE herald_cursors SET seq = greatest(seq, ${seq}) WHERE subscriber = ${subscriber}`;
    await this.#sql`DELETE FROM herald_events WHERE seq <= (SELECT min(seq) FROM herald_cursors)`;
  }

  async listPublished(options: ListOptions = {}): Promise<readonly Article[]> {
    const sql = this.#sql;
    const tagged =
      options.tag === undefined
        ? sql``
        : sql`AND herald_tag_keys(data -> 'tags') @> ARRAY[lower(${options.tag})]`;
    // `LIMIT NULL` is no limit.
    const rows = await sql<{ data: string }[]>`
      SELECT data::text AS data FROM herald_articles WHERE state = 'published' ${tagged}
      ORDER BY published DESC, id LIMIT ${options.limit ?? null}`;
    return rows.map((r) => decodeArticle(r.data));
  }

  async countPublished(): Promise<number> {
    const [row] = await this.#sql<{ n: number }[]>`
      SELECT count(*)::integer AS n FROM herald_articles WHERE state = 'published'`;
    return row?.n ?? 0;
  }

  async firstScan(): Promise<Date | undefined> {
    const [row] = await this.#sql<{ value: string }[]>`
      SELECT value FROM herald_meta WHERE key = 'first_scan'`;
    return row ? new Date(row.value) : undefined;
  }

  async lastChange(tag?: string): Promise<Date | undefined> {
    const sql = this.#sql;
    const tagged =
      tag === undefined ? sql`` : sql`AND herald_tag_keys(data -> 'tags') @> ARRAY[lower(${tag})]`;
    // One index look-up per state (`state, updated`), or the tag's articles through its index.
    const [row] = await sql<{ t: Date | null }[]>`
      SELECT greatest(
        (SELECT max(updated) FROM herald_articles WHERE state = 'published' ${tagged}),
        (SELECT max(updated) FROM herald_articles WHERE state = 'deleted' ${tagged})) AS t`;
    return row?.t ?? undefined;
  }

  async listPublishedLinks(limit: number): Promise<readonly PublishedLink[]> {
    const rows = await this.#sql<{ slug: string; updated: Date }[]>`
      SELECT slug, updated FROM herald_articles WHERE state = 'published'
      ORDER BY published DESC, id LIMIT ${limit}`;
    return rows.map((r) => ({ slug: r.slug, updated: r.updated }));
  }

  async findBySlug(slug: string): Promise<ArticleRecord | undefined> {
    const sql = this.#sql;
    // A live article wins over a deleted one that had the same slug.
    const [record] = await this.#select(
      sql,
      sql`WHERE slug = ${slug} ORDER BY state = 'deleted', published DESC LIMIT 1`,
    );
    return record;
  }

  async findById(id: string): Promise<ArticleRecord | undefined> {
    return (await this.#byIds(this.#sql, [id]))[0];
  }

  async listAll(): Promise<readonly ArticleRecord[]> {
    return await this.#select(this.#sql, this.#sql`ORDER BY published DESC`);
  }

  async tryLockScan(): Promise<ScanLock | undefined> {
    const lock: ScanLock | undefined = await tryAdvisoryLock(this.#url, this.#scanLock, () => {
      if (lock) this.#held.delete(lock);
    });
    if (lock) this.#held.add(lock);
    return lock;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#held].map((lock) => lock.release()));
    if (!this.#shared) await this.#sql.end({ timeout: 5 });
  }

  /**
   * The reads and writes of `applyBatch()`, in `tx`. Statements issued together are pipelined
   * on the transaction's connection.
   */
  #transaction(tx: Queryable): ApplyTransaction {
    return {
      recordFirstScan: async (at) => {
        await tx`INSERT INTO herald_meta (key, value) VALUES ('first_scan', ${at.toISOString()})
                 ON CONFLICT DO NOTHING`;
      },
      links: (paths) => this.#links(tx, paths),
      due: (now) => this.#select(tx, tx`WHERE state = 'scheduled' AND published <= ${now}`),
      byIds: (ids) => this.#byIds(tx, ids),
      slugOwners: async (wanted) => {
        const owners = await this.#slugOwners(tx, wanted);
        return (slug) => owners.get(slug);
      },
      putFiles: async (rows) => {
        await Promise.all(
          rows.map(
            ({ path, stamp, articleId, problem }) => tx`
              INSERT INTO herald_files (path, size, mtime_ms, article_id, problem)
              VALUES (${path}, ${stamp.size}, ${stamp.mtimeMs}, ${articleId ?? null},
                ${problem ?? null})
              ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
                article_id = excluded.article_id, problem = excluded.problem`,
          ),
        );
      },
      deleteFiles: (paths) => this.#deleteFiles(tx, paths),
      // `::text` first: given a string for a jsonb parameter, postgres would store a JSON string.
      putArticles: async (records) => {
        await Promise.all(
          records.map(
            ({ article, state, explicitSlug, firstSeen }) => tx`
              INSERT INTO herald_articles
                (id, slug, state, explicit_slug, first_seen, published, hash, updated, data)
              VALUES (${article.id}, ${article.slug}, ${state}, ${explicitSlug}, ${firstSeen},
                ${article.published}, ${article.hash}, ${article.updated},
                ${encodeArticle(article)}::text::jsonb)
              ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, state = excluded.state,
                explicit_slug = excluded.explicit_slug, published = excluded.published,
                hash = excluded.hash, updated = excluded.updated, data = excluded.data`,
          ),
        );
      },
      appendEvents: async (changes, at) => {
        const inserted = await Promise.all(
          changes.map(
            (change) => tx<{ seq: string }[]>`
              INSERT INTO herald_events (at, type, data)
              VALUES (${at}, ${change.type}, ${encodeArticle(change.article)})
              RETURNING seq`,
          ),
        );
        return inserted.map((rows) => Number(rows[0]?.seq));
      },
    };
  }

  /** The article each of `paths` yields, for the paths the store knows and that yield one. */
  async #links(tx: Queryable, paths: readonly string[]): Promise<Map<string, string>> {
    if (paths.length === 0) return new Map();
    const rows = await tx<{ path: string; article_id: string }[]>`
      SELECT path, article_id FROM herald_files
      WHERE article_id IS NOT NULL AND path = ANY(${paths as string[]}::text[])`;
    return new Map(rows.map((r) => [r.path, r.article_id]));
  }

  /**
   * The live owners of every slug `diffArticles()` may ask about for these wanted slugs:
   * each slug itself and its numbered variants (`news`, `news-2`, `news-3`, …).
   */
  async #slugOwners(tx: Queryable, wanted: readonly string[]): Promise<Map<string, string>> {
    if (wanted.length === 0) return new Map();
    const rows = await tx<{ slug: string; id: string }[]>`
      SELECT slug, id FROM herald_articles
      WHERE state != 'deleted' AND (slug = ANY(${wanted as string[]}::text[])
        OR regexp_replace(slug, '-[0-9]+$', '') = ANY(${wanted as string[]}::text[]))`;
    return new Map(rows.map((r) => [r.slug, r.id]));
  }

  async #deleteFiles(tx: Queryable, paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    await tx`DELETE FROM herald_files WHERE path = ANY(${paths as string[]}::text[])`;
  }

  async #byIds(tx: Queryable, ids: readonly string[]): Promise<StoredArticle[]> {
    if (ids.length === 0) return [];
    return await this.#select(tx, tx`WHERE id = ANY(${ids as string[]}::text[])`);
  }

  async #select(
    tx: Queryable,
    where: postgres.PendingQuery<postgres.Row[]>,
  ): Promise<StoredArticle[]> {
    const rows = await tx<ArticleRow[]>`
      SELECT data::text AS data, state, explicit_slug, first_seen FROM herald_articles ${where}`;
    return rows.map(
      (r): StoredArticle => ({
        article: decodeArticle(r.data),
        state: r.state as ArticleState,
        explicitSlug: r.explicit_slug,
        firstSeen: r.first_seen,
      }),
    );
  }
}
