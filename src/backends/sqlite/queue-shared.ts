import type { DatabaseSync, StatementSync } from "node:sqlite";
import { encodeMessage } from "../lease-listener.ts";

/** A message as stored: its own JSON text, and which of its fields are stored once for many. */
export interface StoredMessage {
  readonly message: string;
  /** `{"field": id, …}` of the shared values, or null. */
  readonly shared: string | null;
}

/**
 * The values several queued messages hold alike, stored once. Fedify 2.3.6 enqueues a fan-out
 * as one message per inbox, each with the same activity and the same private keys (the very
 * same objects): about 5 KB written, and deleted again, per inbox, which made SQLite's page
 * writes and checkpoints the largest part of the queue's cost. A field whose value is the same
 * object in several messages of one batch of enqueues is written once into `<table>_shared`,
 * counted by the messages referring to it, and put back into each message as it is claimed;
 * the last message's acknowledgement removes it. Every step runs inside the queue's own
 * transactions, so the counts stay exact across crashes. A Herald from before this table would
 * hand such messages out without those fields: let the queue drain before going back to one.
 */
export class SharedValues {
  readonly #insert: StatementSync;
  readonly #count: StatementSync;
  readonly #value: StatementSync;
  readonly #release: StatementSync;
  readonly #forget: StatementSync;

  /** Creates the table (and the queue's `shared` column) if missing. */
  constructor(db: DatabaseSync, table: string) {
    const shared = `${table}_shared`;
    db.exec(`
      CREATE TABLE IF NOT EXISTS "${shared}" (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        value TEXT NOT NULL,
        refs INTEGER NOT NULL
      ) STRICT;
    `);
    const columns = db.prepare(`PRAGMA table_info("${table}")`).all();
    if (!columns.some((column) => column.name === "shared")) {
      db.exec(`ALTER TABLE "${table}" ADD COLUMN shared TEXT`);
    }
    this.#insert = db.prepare(`INSERT INTO "${shared}" (value, refs) VALUES (?, 0) RETURNING id`);
    this.#count = db.prepare(`UPDATE "${shared}" SET refs = refs + ? WHERE id = ?`);
    this.#value = db.prepare(`SELECT value FROM "${shared}" WHERE id = ?`);
    this.#release = db.prepare(
      `UPDATE "${shared}" SET refs = refs - ? WHERE id = ? RETURNING refs`,
    );
    this.#forget = db.prepare(`DELETE FROM "${shared}" WHERE id = ?`);
  }

  /**
   * Encodes a batch of messages, storing the values they share; call inside the transaction
   * that writes the messages, and `write` each (a message that cannot be encoded is handed to
   * `refuse` instead). Returns once all are written.
   */
  encodeBatch<T>(
    items: readonly T[],
    messageOf: (item: T) => unknown,
    write: (item: T, stored: StoredMessage) => void,
    refuse: (item: T, error: unknown) => void,
  ): void {
    const shared = this.#sharedFields(items.map(messageOf));
    const stored = new Map<object, { id: number; refs: number }>();
    for (const item of items) {
      const message = messageOf(item);
      const fields = isRecord(message) ? shared.get(message) : undefined;
      let encoded: StoredMessage;
      try {
        encoded =
          fields === undefined || !isRecord(message)
            ? { message: encodeMessage(message), shared: null }
            : this.#split(message, fields, stored);
      } catch (error) {
        refuse(item, error);
        continue;
      }
      write(item, encoded);
    }
    for (const { id, refs } of stored.values()) {
      if (refs === 0) this.#forget.run(id);
      else this.#count.run(refs, id);
    }
  }

  /** The message's full JSON text, its shared values put back (`cache`: values read so far). */
  expand(row: StoredMessage, cache: Map<number, string>): string {
    if (row.shared === null) return row.message;
    let text = row.message.slice(0, -1);
    for (const [field, id] of Object.entries(JSON.parse(row.shared) as Record<string, number>)) {
      let value = cache.get(id);
      if (value === undefined) {
        value = String((this.#value.get(id) as { value: string } | undefined)?.value ?? "null");
        cache.set(id, value);
      }
      text += `${text.length > 1 ? "," : ""}${JSON.stringify(field)}:${value}`;
    }
    return `${text}}`;
  }

  /** The messages of `shared` went away: their values lose a reference each, and go with the last. */
  release(shared: readonly (string | null)[]): void {
    const counts = new Map<number, number>();
    for (const ids of shared) {
      if (ids === null) continue;
      for (const id of Object.values(JSON.parse(ids) as Record<string, number>)) {
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
    for (const [id, count] of counts) {
      const left = (this.#release.get(count, id) as { refs: number } | undefined)?.refs;
      if (left !== undefined && left <= 0) this.#forget.run(id);
    }
  }

  /** Per message of the batch, its fields whose value (an object) another message holds too. */
  #sharedFields(messages: readonly unknown[]): Map<object, string[]> {
    const seen = new Map<unknown, number>();
    for (const message of messages) {
      if (!isRecord(message)) continue;
      for (const value of Object.values(message)) {
        if (typeof value === "object" && value !== null)
          seen.set(value, (seen.get(value) ?? 0) + 1);
      }
    }
    const fields = new Map<object, string[]>();
    for (const message of messages) {
      if (!isRecord(message)) continue;
      const mine = Object.keys(message).filter((key) => (seen.get(message[key]) ?? 0) > 1);
      if (mine.length > 0) fields.set(message, mine);
    }
    return fields;
  }

  #split(
    message: Record<string, unknown>,
    fields: readonly string[],
    stored: Map<object, { id: number; refs: number }>,
  ): StoredMessage {
    const rest: Record<string, unknown> = { ...message };
    const ids: Record<string, number> = {};
    const used: { id: number; refs: number }[] = [];
    for (const field of fields) {
      const value = message[field] as object;
      let entry = stored.get(value);
      if (entry === undefined) {
        const { id } = this.#insert.get(encodeMessage(value)) as { id: number };
        entry = { id, refs: 0 };
        stored.set(value, entry);
      }
      used.push(entry);
      ids[field] = entry.id;
      delete rest[field];
    }
    const encoded = encodeMessage(rest);
    // Counted only once the message itself could be encoded (and so will be written).
    for (const entry of used) entry.refs++;
    return { message: encoded, shared: JSON.stringify(ids) };
  }
}

/** A plain object (no class of its own, so no `toJSON` a split would lose). */
function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
