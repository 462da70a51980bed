import type { DatabaseSync, StatementSync } from "node:sqlite";
import type {
  MessageQueue,
  MessageQueueDepth,
  MessageQueueEnqueueOptions,
  MessageQueueListenOptions,
} from "@fedify/fedify";
import { toMilliseconds } from "../duration.ts";
import {
  type Finished,
  type Lease,
  type LeaseOptions,
  type LeaseSource,
  type ListenSettings,
  listenSettings,
  listenWithLeases,
  type QueueDepth,
  type Round,
  Sleepers,
} from "../lease-listener.ts";
import { tableName } from "../table-name.ts";
import { immediate, tuneConnection } from "./connection.ts";
import { SharedValues, type StoredMessage } from "./queue-shared.ts";

export type { QueueDepth } from "../lease-listener.ts";

export interface SqliteMessageQueueOptions extends LeaseOptions {
  /** Table to keep the messages in; created if missing. `"herald_queue"` by default. */
  readonly tableName?: string;
  // `pollInterval`: 250 ms by default. It is how an idle listener hears of messages enqueued
  // by other processes (or by other queue objects in this one; this object's own `enqueue`
  // wakes its listeners at once).
}

interface Claimed extends StoredMessage {
  readonly deliveries: number;
}

interface Candidate {
  readonly id: number;
  readonly ordering_key: string | null;
}

interface PendingEnqueue {
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  readonly message: any;
  readonly options: MessageQueueEnqueueOptions | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Fedify's message queue on `node:sqlite`: durable, shared by every process that opens the
 * same file.
 *
 * A listener claims messages for all its idle workers at once, in a `BEGIN IMMEDIATE`
 * transaction that sets their leases; no other listener takes a message while its lease runs.
 * The row is deleted only after the handler settled (in the same transaction as the next
 * claim: one commit per round, not two per message), so a message whose process died (even
 * `kill -9`) is handed out again when its lease runs out: delivery is at least once.
 *
 * Messages are handed out by due time, then enqueue order. While a message with an
 * ordering key is leased, no other message with that key is handed out, so messages
 * sharing a key run one at a time in order.
 *
 * `nativeRetrial` is false: with it, Fedify catches delivery and inbox failures itself
 * and re-enqueues a retry with its backoff policy, and the handler resolves. An error that
 * still reaches the queue is one Fedify chose not to retry; the message is logged and
 * dropped, as Fedify's own queues do. Retrying it here would repeat Fedify's retries.
 *
 * Do not wrap this in Fedify's `ParallelMessageQueue`: its handler returns before the work
 * is done, so the message would be deleted early. Use the `workers` option instead.
 *
 * The connection may be shared (with the article store, the KV store) as long as no
 * transaction on it spans an `await`. Abort the listeners and await `listen()` before
 * closing it.
 */
export class SqliteMessageQueue implements MessageQueue {
  readonly nativeRetrial = false;

  readonly #db: DatabaseSync;
  readonly #settings: ListenSettings;
  readonly #insert: StatementSync;
  readonly #candidates: StatementSync;
  readonly #claimId: StatementSync;
  readonly #renew: StatementSync;
  readonly #ack: StatementSync;
  readonly #nextDue: StatementSync;
  readonly #depth: StatementSync;
  /** Wakes this object's idle listeners: after an enqueue, or after an ack frees an ordering key. */
  readonly #sleepers = new Sleepers();
  readonly #source: LeaseSource;
  readonly #shared: SharedValues;
  /** Enqueues of this tick, written together by `#flush()`. */
  #batch: PendingEnqueue[] = [];

  constructor(db: DatabaseSync, options: SqliteMessageQueueOptions = {}) {
    const table = tableName(options.tableName ?? "herald_queue");
    this.#db = db;
    this.#settings = listenSettings(options, 250);
    tuneConnection(db);
    db.exec(`
      CREATE TABLE IF NOT EXISTS "${table}" (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message TEXT NOT NULL,
        ordering_key TEXT,
        created INTEGER NOT NULL,
        scheduled INTEGER NOT NULL,
        deliveries INTEGER NOT NULL DEFAULT 0,
        lease_token TEXT,
        lease_until INTEGER
      ) STRICT;
      CREATE INDEX IF NOT EXISTS "${table}_due" ON "${table}" (scheduled, id);
      CREATE INDEX IF NOT EXISTS "${table}_ordering" ON "${table}" (ordering_key, lease_until)
        WHERE ordering_key IS NOT NULL;
    `);
    this.#shared = new SharedValues(db, table);
    this.#insert = db.prepare(`
      INSERT INTO "${table}" (message, shared, ordering_key, created, scheduled)
      VALUES (:message, :shared, :orderingKey, :now, :scheduled)`);
    // The due messages a round may claim, in order; `#settleAndClaim()` keeps the first of each
    // ordering key. Read and claimed under one write lock.
    this.#candidates = db.prepare(`
      SELECT m.id, m.ordering_key FROM "${table}" AS m
      WHERE m.scheduled <= :now
        AND (m.lease_until IS NULL OR m.lease_until <= :now)
        AND (m.ordering_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM "${table}" AS o
          WHERE o.ordering_key = m.ordering_key AND o.lease_until > :now))
      ORDER BY m.scheduled, m.id
      LIMIT :limit`);
    this.#claimId = db.prepare(`
      UPDATE "${table}"
      SET lease_token = :token, lease_until = :until, deliveries = deliveries + 1
      WHERE id = :id
      RETURNING message, shared, deliveries`);
    this.#renew = db.prepare(`
      UPDATE "${table}" SET lease_until = :until WHERE id = :id AND lease_token = :token`);
    this.#ack = db.prepare(
      `DELETE FROM "${table}" WHERE id = :id AND lease_token = :token RETURNING shared`,
    );
    this.#nextDue = db.prepare(
      `SELECT MIN(scheduled) AS due FROM "${table}" WHERE scheduled > :now`,
    );
    this.#depth = db.prepare(`
      SELECT
        COALESCE(SUM(lease_until > :now), 0) AS inFlight,
        COALESCE(SUM(NOT COALESCE(lease_until > :now, 0) AND scheduled <= :now), 0) AS ready,
        COALESCE(SUM(NOT COALESCE(lease_until > :now, 0) AND scheduled > :now), 0) AS delayed
      FROM "${table}"`);
    this.#source = {
      claim: async (token) => {
        const { leases, idleMs } = this.#settleAndClaim([], token, 1);
        const lease = leases[0];
        return lease === undefined ? { idleMs } : { lease };
      },
      renew: async (lease, token) => {
        const until = Date.now() + this.#settings.leaseMs;
        return this.#renew.run({ id: Number(lease.id), token, until }).changes > 0;
      },
      acknowledge: async (lease, token) =>
        immediate(this.#db, () => this.#acknowledge([{ lease, token }])[0] === true),
      settleAndClaim: async (done, token, count) => this.#settleAndClaim(done, token, count),
    };
  }

  /**
   * Durable once it resolves. Fedify 2.3.6 enqueues a fan-out with an ordering key one
   * message per inbox, all in the same tick (`FederationImpl.sendActivity()`: `enqueue()` per
   * message instead of `enqueueMany()` when an ordering key is set): those written alone cost
   * one commit each, 10,000 for 10,000 servers. So the enqueues of one tick are written
   * together, in one transaction, and all resolve (or reject) once it committed.
   */
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  enqueue(message: any, options?: MessageQueueEnqueueOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#batch.length === 0) queueMicrotask(() => this.#flush());
      this.#batch.push({ message, options, resolve, reject });
    });
  }

  /**
   * Writes the enqueues of this tick. Each message is encoded just before its row is written
   * (what several share, once: `queue-shared.ts`), so the text of 10,000 messages is never held
   * at once; one that cannot be encoded is refused alone.
   */
  #flush(): void {
    const batch = this.#batch;
    this.#batch = [];
    const refused = new Map<PendingEnqueue, unknown>();
    try {
      immediate(this.#db, () =>
        this.#shared.encodeBatch(
          batch,
          (pending) => pending.message,
          (pending, stored) => this.#insertOne(stored, pending.options),
          (pending, error) => refused.set(pending, error),
        ),
      );
    } catch (error) {
      for (const { reject } of batch) reject(error);
      return;
    }
    for (const pending of batch) {
      if (refused.has(pending)) pending.reject(refused.get(pending));
      else pending.resolve();
    }
    this.#sleepers.wake();
  }

  /** All messages or none: one transaction. */
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  async enqueueMany(messages: readonly any[], options?: MessageQueueEnqueueOptions): Promise<void> {
    if (messages.length === 0) return;
    immediate(this.#db, () =>
      this.#shared.encodeBatch(
        messages,
        (message) => message,
        (_, stored) => this.#insertOne(stored, options),
        (_, error) => {
          throw error;
        },
      ),
    );
    this.#sleepers.wake();
  }

  /**
   * Runs `handler` on each message until `options.signal` aborts. After the abort no new
   * message is claimed; the promise resolves once the running handlers settled and their
   * messages were removed. It never rejects: database errors are logged and retried on
   * the next poll.
   */
  async listen(
    // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
    handler: (message: any) => Promise<void> | void,
    options: MessageQueueListenOptions = {},
  ): Promise<void> {
    await listenWithLeases(this.#source, handler, options.signal, this.#settings, this.#sleepers);
  }

  async getDepth(): Promise<MessageQueueDepth> {
    const { ready, delayed } = this.depth();
    return { queued: ready + delayed, ready, delayed };
  }

  /** Messages waiting (due now or later) and being handled, for an operator's self-test. */
  depth(): QueueDepth {
    const row = this.#depth.get({ now: Date.now() }) as
      | { inFlight: number; ready: number; delayed: number }
      | undefined;
    const ready = row?.ready ?? 0;
    const delayed = row?.delayed ?? 0;
    return { queued: ready + delayed, ready, delayed, inFlight: row?.inFlight ?? 0 };
  }

  #insertOne(stored: StoredMessage, options: MessageQueueEnqueueOptions | undefined): void {
    const now = Date.now();
    const delayMs = options?.delay == null ? 0 : Math.max(0, toMilliseconds(options.delay));
    this.#insert.run({
      message: stored.message,
      shared: stored.shared,
      orderingKey: options?.orderingKey ?? null,
      now,
      scheduled: Math.ceil(now + delayMs),
    });
  }

  /**
   * Removes the handled messages still leased to their tokens, answering which were; call
   * inside a transaction.
   */
  #acknowledge(done: readonly Finished[]): boolean[] {
    const shared: (string | null)[] = [];
    const acknowledged = done.map(({ lease, token }) => {
      const row = this.#ack.get({ id: Number(lease.id), token }) as
        | { shared: string | null }
        | undefined;
      if (row !== undefined) shared.push(row.shared);
      return row !== undefined;
    });
    this.#shared.release(shared);
    return acknowledged;
  }

  /**
   * Acknowledges `done` and claims up to `count` due messages, at most one per ordering key (the
   * first in order: a key's later message waits for its lease to end), in one transaction.
   */
  #settleAndClaim(done: readonly Finished[], token: string, count: number): Round {
    return immediate(this.#db, () => {
      const acknowledged = this.#acknowledge(done);
      if (count === 0) return { acknowledged, leases: [] };
      // One clock reading for all: a message falling due in between is claimed or counted.
      const now = Date.now();
      const until = now + this.#settings.leaseMs;
      // Twice the count, so a few messages sharing a key do not leave workers idle.
      const candidates = this.#candidates.all({
        now,
        limit: count * 2,
      }) as unknown[] as Candidate[];
      const keys = new Set<string>();
      const leases: Lease[] = [];
      const values = new Map<number, string>();
      for (const { id, ordering_key: key } of candidates) {
        if (leases.length === count) break;
        if (key !== null) {
          if (keys.has(key)) continue;
          keys.add(key);
        }
        const claimed = this.#claimId.get({ id, token, until }) as Claimed | undefined;
        if (claimed !== undefined) {
          const message = this.#shared.expand(claimed, values);
          leases.push({ id: String(id), message, deliveries: claimed.deliveries });
        }
      }
      if (leases.length === count) return { acknowledged, leases };
      const due = (this.#nextDue.get({ now }) as { due: number | null } | undefined)?.due;
      return { acknowledged, leases, ...(due == null ? {} : { idleMs: due - now }) };
    });
  }
}

/** Fedify's delivery queue in `db` (its table created if missing). */
export function openSqliteMessageQueue(
  db: DatabaseSync,
  options: SqliteMessageQueueOptions = {},
): SqliteMessageQueue {
  return new SqliteMessageQueue(db, options);
}
