import type { DatabaseSync, StatementSync } from "node:sqlite";
import { isDeepStrictEqual } from "node:util";
import type { KvKey, KvStore, KvStoreListEntry, KvStoreSetOptions } from "@fedify/fedify";
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
import { immediate, tuneConnection } from "./connection.ts";

export interface SqliteKvStoreOptions {
  /** Table to keep the entries in; created if missing. `"herald_kv"` by default. */
  readonly tableName?: string;
}

/** Expired rows are swept on a write at most this often (and always by `deleteExpired()`). */
const SWEEP_INTERVAL_MS = 60_000;

interface Row {
  readonly key: string;
  readonly value: string;
}

/**
 * Fedify's key–value store on `node:sqlite`. Keys are stored as their JSON text and values
 * as JSON, so only JSON values round-trip (Fedify stores nothing else). An entry with a TTL
 * is never returned once it has expired; expired rows are deleted by a periodic sweep.
 * The connection may be shared as long as no transaction on it spans an `await`.
 */
export class SqliteKvStore implements KvStore {
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #upsert: StatementSync;
  readonly #delete: StatementSync;
  readonly #listAll: StatementSync;
  readonly #listPrefix: StatementSync;
  readonly #sweep: StatementSync;
  #lastSweep = 0;

  constructor(db: DatabaseSync, options: SqliteKvStoreOptions = {}) {
    const table = tableName(options.tableName ?? "herald_kv");
    this.#db = db;
    tuneConnection(db);
    db.exec(`
      CREATE TABLE IF NOT EXISTS "${table}" (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires INTEGER
      ) STRICT;
      CREATE INDEX IF NOT EXISTS "${table}_expires" ON "${table}" (expires)
        WHERE expires IS NOT NULL;
    `);
    const live = "(expires IS NULL OR expires > :now)";
    this.#get = db.prepare(`SELECT value FROM "${table}" WHERE key = :key AND ${live}`);
    this.#upsert = db.prepare(`
      INSERT INTO "${table}" (key, value, expires) VALUES (:key, :value, :expires)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires`);
    this.#delete = db.prepare(`DELETE FROM "${table}" WHERE key = :key`);
    this.#listAll = db.prepare(`SELECT key, value FROM "${table}" WHERE ${live}`);
    // The half-open range [lo, hi) holds exactly the keys under a prefix (see prefixRange).
    this.#listPrefix = db.prepare(`
      SELECT key, value FROM "${table}"
      WHERE (key = :exact OR (key >= :lo AND key < :hi)) AND ${live}`);
    this.#sweep = db.prepare(
      `DELETE FROM "${table}" WHERE expires IS NOT NULL AND expires <= :now`,
    );
    this.deleteExpired();
  }

  async get<T = unknown>(key: KvKey): Promise<T | undefined> {
    const row = this.#get.get({ key: encodeKey(key), now: Date.now() }) as Row | undefined;
    return row == null ? undefined : (JSON.parse(row.value) as T);
  }

  async set(key: KvKey, value: unknown, options?: KvStoreSetOptions): Promise<void> {
    this.#write(key, value, options);
    this.#maybeSweep();
  }

  async delete(key: KvKey): Promise<void> {
    this.#delete.run({ key: encodeKey(key) });
  }

  /**
   * Replaces the value only if the live value deep-equals `expectedValue` (`undefined`
   * meaning "absent"). `newValue` `undefined` deletes the entry: Fedify consumes
   * one-time nonces with `cas(key, true, undefined)`. Atomic across processes because the
   * read and the write happen under one `BEGIN IMMEDIATE`.
   */
  async cas(
    key: KvKey,
    expectedValue: unknown,
    newValue: unknown,
    options?: KvStoreSetOptions,
  ): Promise<boolean> {
    const swapped = immediate(this.#db, () => {
      const row = this.#get.get({ key: encodeKey(key), now: Date.now() }) as Row | undefined;
      const current = row == null ? undefined : JSON.parse(row.value);
      if (!isDeepStrictEqual(current, normalizeValue(expectedValue))) return false;
      this.#write(key, newValue, options);
      return true;
    });
    if (swapped) this.#maybeSweep();
    return swapped;
  }

  /**
   * Live entries whose key starts with `prefix` (the prefix itself included), ordered by
   * key element by element. Rows are read before the first entry is yielded, so the caller
   * may write to the store while iterating (Fedify's circuit breaker does).
   */
  async *list(prefix?: KvKey): AsyncIterable<KvStoreListEntry> {
    const now = Date.now();
    let rows: Row[];
    if (prefix == null || prefix.length === 0) {
      rows = this.#listAll.all({ now }) as unknown[] as Row[];
    } else {
      rows = this.#listPrefix.all({ ...prefixRange(prefix), now }) as unknown[] as Row[];
    }
    const entries = rows.map((row) => ({
      key: decodeKey(row.key),
      value: JSON.parse(row.value) as unknown,
    }));
    entries.sort((a, b) => compareKeys(a.key, b.key));
    yield* entries;
  }

  /** Deletes every expired row now; returns how many went. */
  deleteExpired(): number {
    this.#lastSweep = Date.now();
    return Number(this.#sweep.run({ now: this.#lastSweep }).changes);
  }

  #write(key: KvKey, value: unknown, options: KvStoreSetOptions | undefined): void {
    if (value === undefined) {
      this.#delete.run({ key: encodeKey(key) });
      return;
    }
    const now = Date.now();
    this.#upsert.run({
      key: encodeKey(key),
      value: encodeValue(value),
      expires: options?.ttl == null ? null : Math.ceil(now + toMilliseconds(options.ttl)),
    });
  }

  #maybeSweep(): void {
    if (Date.now() - this.#lastSweep >= SWEEP_INTERVAL_MS) this.deleteExpired();
  }
}

/** Fedify's KV store in `db` (its table created if missing). */
export function openSqliteKvStore(
  db: DatabaseSync,
  options: SqliteKvStoreOptions = {},
): SqliteKvStore {
  return new SqliteKvStore(db, options);
}
