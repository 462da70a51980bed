import type { DatabaseSync, StatementSync } from "node:sqlite";
import type {
  MessageQueue,
  MessageQueueDepth,
  MessageQueueEnqueueOptions,
  MessageQueueListenOptions,
} from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import { immediate, tableName, toMilliseconds, tuneConnection } from "./sqlite-connection.ts";

const logger = getLogger(["herald", "federation", "queue"]);

type Duration = Temporal.Duration | Temporal.DurationLikeObject;

export interface SqliteMessageQueueOptions {
  /** Table to keep the messages in; created if missing. `"herald_queue"` by default. */
  readonly tableName?: string;
  /**
   * How often an idle listener looks for messages enqueued by other processes (or by other
   * queue objects in this one; this object's own `enqueue` wakes its listeners at once).
   * 250 ms by default.
   */
  readonly pollInterval?: Duration;
  /**
   * How long a claimed message stays reserved for its listener. A running handler renews
   * the lease every third of it; a message whose listener died is handed out again once the
   * lease has run out. 30 s by default.
   */
  readonly lease?: Duration;
  /** Handlers this object's `listen()` runs at once. 1 by default. */
  readonly workers?: number;
  /**
   * Deliveries after which a message that never got acknowledged (its listener died each
   * time, e.g. a handler that crashes the process) is dropped instead of handed out again.
   * 5 by default.
   */
  readonly maxDeliveries?: number;
}

/** {@link MessageQueueDepth} plus the messages whose handler is running now. */
export interface QueueDepth extends MessageQueueDepth {
  readonly ready: number;
  readonly delayed: number;
  readonly inFlight: number;
}

interface Claimed {
  readonly id: number;
  readonly message: string;
  readonly ordering_key: string | null;
  readonly deliveries: number;
}

/**
 * Fedify's message queue on `node:sqlite`: durable, shared by every process that opens the
 * same file.
 *
 * A listener claims one message at a time with an atomic `UPDATE … RETURNING` that sets a
 * lease; no other listener takes a message while its lease runs. The row is deleted only
 * after the handler settled, so a message whose process died (even `kill -9`) is handed out
 * again when its lease runs out: delivery is at least once.
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
  readonly #pollMs: number;
  readonly #leaseMs: number;
  readonly #workers: number;
  readonly #maxDeliveries: number;
  readonly #insert: StatementSync;
  readonly #claim: StatementSync;
  readonly #renew: StatementSync;
  readonly #ack: StatementSync;
  readonly #nextDue: StatementSync;
  readonly #depth: StatementSync;
  /** Wakes this object's idle listeners: after an enqueue, or after an ack frees an ordering key. */
  readonly #sleepers = new Set<() => void>();

  constructor(db: DatabaseSync, options: SqliteMessageQueueOptions = {}) {
    const table = tableName(options.tableName ?? "herald_queue");
    this.#db = db;
    this.#pollMs = toMilliseconds(options.pollInterval ?? { milliseconds: 250 });
    this.#leaseMs = toMilliseconds(options.lease ?? { seconds: 30 });
    this.#workers = options.workers ?? 1;
    this.#maxDeliveries = options.maxDeliveries ?? 5;
    if (!(this.#pollMs > 0 && this.#leaseMs > 0)) {
      throw new RangeError("The poll interval and the lease must be positive.");
    }
    if (!(Number.isInteger(this.#workers) && this.#workers >= 1)) {
      throw new RangeError(`workers must be a positive integer (got ${this.#workers}).`);
    }
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
    this.#insert = db.prepare(`
      INSERT INTO "${table}" (message, ordering_key, created, scheduled)
      VALUES (:message, :orderingKey, :now, :scheduled)`);
    // One statement, so the choice and the claim are atomic: SQLite takes the write lock
    // before the statement reads, and other processes wait out the busy timeout.
    this.#claim = db.prepare(`
      UPDATE "${table}"
      SET lease_token = :token, lease_until = :until, deliveries = deliveries + 1
      WHERE id = (
        SELECT m.id FROM "${table}" AS m
        WHERE m.scheduled <= :now
          AND (m.lease_until IS NULL OR m.lease_until <= :now)
          AND (m.ordering_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM "${table}" AS o
            WHERE o.ordering_key = m.ordering_key AND o.lease_until > :now))
        ORDER BY m.scheduled, m.id
        LIMIT 1)
      RETURNING id, message, ordering_key, deliveries`);
    this.#renew = db.prepare(`
      UPDATE "${table}" SET lease_until = :until WHERE id = :id AND lease_token = :token`);
    this.#ack = db.prepare(`DELETE FROM "${table}" WHERE id = :id AND lease_token = :token`);
    this.#nextDue = db.prepare(
      `SELECT MIN(scheduled) AS due FROM "${table}" WHERE scheduled > :now`,
    );
    this.#depth = db.prepare(`
      SELECT
        COALESCE(SUM(lease_until > :now), 0) AS inFlight,
        COALESCE(SUM(NOT COALESCE(lease_until > :now, 0) AND scheduled <= :now), 0) AS ready,
        COALESCE(SUM(NOT COALESCE(lease_until > :now, 0) AND scheduled > :now), 0) AS delayed
      FROM "${table}"`);
  }

  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  async enqueue(message: any, options?: MessageQueueEnqueueOptions): Promise<void> {
    this.#insertOne(encodeMessage(message), options);
    this.#wake();
  }

  /** All messages or none: one transaction. */
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  async enqueueMany(messages: readonly any[], options?: MessageQueueEnqueueOptions): Promise<void> {
    if (messages.length === 0) return;
    const encoded = messages.map(encodeMessage);
    immediate(this.#db, () => {
      for (const message of encoded) this.#insertOne(message, options);
    });
    this.#wake();
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
    const { signal } = options;
    const workers = Array.from({ length: this.#workers }, () => this.#work(handler, signal));
    await Promise.all(workers);
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

  #insertOne(message: string, options: MessageQueueEnqueueOptions | undefined): void {
    const now = Date.now();
    const delayMs = options?.delay == null ? 0 : Math.max(0, toMilliseconds(options.delay));
    this.#insert.run({
      message,
      orderingKey: options?.orderingKey ?? null,
      now,
      scheduled: Math.ceil(now + delayMs),
    });
  }

  async #work(
    // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
    handler: (message: any) => Promise<void> | void,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    while (signal?.aborted !== true) {
      let claimed: Claimed | undefined;
      const token = crypto.randomUUID();
      try {
        const now = Date.now();
        claimed = this.#claim.get({ token, now, until: now + this.#leaseMs }) as
          | Claimed
          | undefined;
      } catch (error) {
        logger.error("Could not claim a message; trying again: {error}", { error });
        await this.#sleep(this.#pollMs, signal);
        continue;
      }
      if (claimed == null) {
        await this.#sleep(this.#idleWait(), signal);
        continue;
      }
      await this.#handle(claimed, token, handler);
    }
  }

  async #handle(
    claimed: Claimed,
    token: string,
    // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
    handler: (message: any) => Promise<void> | void,
  ): Promise<void> {
    const { id, deliveries } = claimed;
    if (deliveries > this.#maxDeliveries) {
      logger.error("Dropped message {id}: handed out {deliveries} times and never acknowledged.", {
        id,
        deliveries,
        message: claimed.message,
      });
      this.#acknowledge(id, token);
      return;
    }
    const renewal = setInterval(() => this.#renewLease(id, token), this.#leaseMs / 3);
    try {
      await handler(JSON.parse(claimed.message));
    } catch (error) {
      logger.error("Dropped message {id}: its handler failed: {error}", {
        id,
        error,
        message: claimed.message,
      });
    } finally {
      clearInterval(renewal);
    }
    this.#acknowledge(id, token);
    // An ack may free an ordering key another idle listener of ours is waiting for.
    this.#wake();
  }

  #renewLease(id: number, token: string): void {
    try {
      const { changes } = this.#renew.run({ id, token, until: Date.now() + this.#leaseMs });
      if (changes === 0) {
        logger.warn("Lost the lease on message {id}; another listener may run it too.", { id });
      }
    } catch (error) {
      logger.warn("Could not renew the lease on message {id}: {error}", { id, error });
    }
  }

  #acknowledge(id: number, token: string): void {
    try {
      const { changes } = this.#ack.run({ id, token });
      if (changes === 0) {
        logger.warn("Message {id} was no longer leased to this listener when it finished.", {
          id,
        });
      }
    } catch (error) {
      // The row stays; it is handed out again when the lease runs out.
      logger.error("Could not remove handled message {id}: {error}", { id, error });
    }
  }

  /** Until the next poll, or sooner when a delayed message falls due before it. */
  #idleWait(): number {
    try {
      const now = Date.now();
      const due = (this.#nextDue.get({ now }) as { due: number | null } | undefined)?.due;
      return due == null ? this.#pollMs : Math.min(this.#pollMs, Math.max(1, due - now));
    } catch {
      return this.#pollMs;
    }
  }

  #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.#sleepers.add(done);
    });
  }

  #wake(): void {
    for (const wake of [...this.#sleepers]) wake();
  }
}

// biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
function encodeMessage(message: any): string {
  const json = JSON.stringify(message);
  if (json === undefined) {
    throw new TypeError(`A queued message must be JSON (got ${typeof message}).`);
  }
  return json;
}
