import { isDeepStrictEqual } from "node:util";
import type { KvKey, KvStore, KvStoreListEntry, KvStoreSetOptions } from "@fedify/fedify";
import type postgres from "postgres";
import { toMilliseconds } from "../duration.ts";
import {
  compareKeys,
  decodeKey,
  encodeKey,
  encodeValue,
  normalizeValue,
  prefixRange,
} from "../kv-codec.ts";
import { tableName } from "../table-name.ts";
import { createTablesOnce } from "./tables.ts";

export interface PostgresKvStoreOptions {
  /** Table to keep the entries in, in the connection's current schema; created if missing. */
  readonly tableName?: string;
}

/** Expired rows are swept on a write at most this often, per store object. */
const SWEEP_INTERVAL_MS = 60_000;

/** Creates the table if missing (safe when processes start at once) and opens the store. */
export async function openPostgresKvStore(
  sql: postgres.Sql,
  options: PostgresKvStoreOptions = {},
): Promise<PostgresKvStore> {
  const table = tableName(options.tableName ?? "herald_kv");
  // `C` collation: keys compare by code point, so a prefix is a range the index serves.
  await createTablesOnce(
    sql,
    table,
    `CREATE TABLE IF NOT EXISTS "${table}" (
       key text COLLATE "C" PRIMARY KEY,
       value text NOT NULL,
       expires timestamptz
     );
     CREATE INDEX IF NOT EXISTS "${table}_expires" ON "${table}" (expires)
       WHERE expires IS NOT NULL;`,
  );
  const store = new PostgresKvStore(sql, table);
  await store.deleteExpired();
  return store;
}

/**
 * Fedify's key–value store in PostgreSQL, shared by every process on the same table. Keys
 * and values are kept as JSON text (see `backends/kv-codec.ts`). Expiry uses the database's clock, so
 * processes on machines whose clocks differ agree on it.
 *
 * `cas()` reads the live value, compares it in code, then writes only if the row still
 * holds exactly the text it read (one conditional statement, so atomic): a concurrent
 * writer in between makes it answer false, never lose an update.
 *
 * The client is the caller's: it is not ended here.
 */
export class PostgresKvStore implements KvStore {
  readonly #sql: postgres.Sql;
  readonly #table: postgres.Helper<string>;
  #lastSweep = 0;

  /** Use {@link openPostgresKvStore}: the table must exist. */
  constructor(sql: postgres.Sql, table: string) {
    this.#sql = sql;
    this.#table = sql(tableName(table));
  }

  async get<T = unknown>(key: KvKey): Promise<T | undefined> {
    const value = await this.#read(encodeKey(key));
    return value === undefined ? undefined : (JSON.parse(value) as T);
  }

  async set(key: KvKey, value: unknown, options?: KvStoreSetOptions): Promise<void> {
    if (value === undefined) return await this.delete(key);
    await this.#sql`
      INSERT INTO ${this.#table} (key, value, expires)
      VALUES (${encodeKey(key)}, ${encodeValue(value)}, ${this.#expires(options)})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires`;
    await this.#maybeSweep();
  }

  async delete(key: KvKey): Promise<void> {
    await this.#sql`DELETE FROM ${this.#table} WHERE key = ${encodeKey(key)}`;
  }

  /**
   * Replaces the value only if the live value deep-equals `expectedValue` (`undefined`
   * meaning "absent"). `newValue` `undefined` deletes the entry: Fedify consumes
   * one-time nonces with `cas(key, true, undefined)`.
   */
  async cas(
    key: KvKey,
    expectedValue: unknown,
    newValue: unknown,
    options?: KvStoreSetOptions,
  ): Promise<boolean> {
    const sql = this.#sql;
    const encoded = encodeKey(key);
    const seen = await this.#read(encoded);
    const current = seen === undefined ? undefined : JSON.parse(seen);
    if (!isDeepStrictEqual(current, normalizeValue(expectedValue))) return false;
    if (seen === undefined) {
      if (newValue === undefined) return true;
      // Takes the key if no row holds it or the row there has expired.
      const rows = await sql`
        INSERT INTO ${this.#table} AS t (key, value, expires)
        VALUES (${encoded}, ${encodeValue(newValue)}, ${this.#expires(options)})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires
          WHERE t.expires IS NOT NULL AND t.expires <= now()
        RETURNING 1`;
      return rows.length === 1;
    }
    const unchanged = sql`
      key = ${encoded} AND value = ${seen} AND (expires IS NULL OR expires > now())`;
    const rows =
      newValue === undefined
        ? await sql`DELETE FROM ${this.#table} WHERE ${unchanged} RETURNING 1`
        : await sql`
            UPDATE ${this.#table}
            SET value = ${encodeValue(newValue)}, expires = ${this.#expires(options)}
            WHERE ${unchanged} RETURNING 1`;
    if (rows.length === 1) await this.#maybeSweep();
    return rows.length === 1;
  }

  /**
   * Live entries whose key starts with `prefix` (the prefix itself included), ordered by
   * key element by element. Rows are read before the first entry is yielded, so the caller
   * may write to the store while iterating (Fedify's circuit breaker does).
   */
  async *list(prefix?: KvKey): AsyncIterable<KvStoreListEntry> {
    const sql = this.#sql;
    let range = sql``;
    if (prefix != null && prefix.length > 0) {
      const { exact, lo, hi } = prefixRange(prefix);
      range = sql`AND (key = ${exact} OR (key >= ${lo} AND key < ${hi}))`;
    }
    const rows = await sql<{ key: string; value: string }[]>`
      SELECT key, value FROM ${this.#table}
      WHERE (expires IS NULL OR expires > now()) ${range}`;
    const entries = rows.map((row) => ({
      key: decodeKey(row.key),
      value: JSON.parse(row.value) as unknown,
    }));
    entries.sort((a, b) => compareKeys(a.key, b.key));
    yield* entries;
  }

  /** Deletes every expired row now; answers how many went. */
  async deleteExpired(): Promise<number> {
    this.#lastSweep = Date.now();
    const result = await this.#sql`
      DELETE FROM ${this.#table} WHERE expires IS NOT NULL AND expires <= now()`;
    return result.count;
  }

  async #read(key: string): Promise<string | undefined> {
    const [row] = await this.#sql<{ value: string }[]>`
      SELECT value FROM ${this.#table}
      WHERE key = ${key} AND (expires IS NULL OR expires > now())`;
    return row?.value;
  }

  /** The expiry of an entry written now, on the database's clock. */
  #expires(options: KvStoreSetOptions | undefined): postgres.PendingQuery<postgres.Row[]> {
    if (options?.ttl == null) return this.#sql`NULL::timestamptz`;
    const ms = toMilliseconds(options.ttl);
    return this.#sql`now() + ${ms}::double precision * interval '1 millisecond'`;
  }

  async #maybeSweep(): Promise<void> {
    if (Date.now() - this.#lastSweep >= SWEEP_INTERVAL_MS) await this.deleteExpired();
  }
}
