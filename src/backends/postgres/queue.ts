import { createHash } from "node:crypto";
import type {
  MessageQueue,
  MessageQueueDepth,
  MessageQueueEnqueueOptions,
  MessageQueueListenOptions,
} from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import type postgres from "postgres";
import { toMilliseconds } from "../duration.ts";
import {
  encodeMessage,
  type Lease,
  type LeaseOptions,
  type LeaseSource,
  type ListenSettings,
  listenSettings,
  listenWithLeases,
  type QueueDepth,
  Sleepers,
} from "../lease-listener.ts";
import { tableName } from "../table-name.ts";
import { createTablesOnce } from "./tables.ts";

const logger = getLogger(["herald", "federation", "queue"]);

export interface PostgresMessageQueueOptions extends LeaseOptions {
  /** Table to keep the messages in, in the connection's current schema; created if missing. */
  readonly tableName?: string;
}

type Claim = Awaited<ReturnType<LeaseSource["claim"]>>;

interface PendingEnqueue {
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  readonly message: any;
  readonly options: MessageQueueEnqueueOptions | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Creates the table if missing (safe when processes start at once) and opens the queue. */
export async function openPostgresMessageQueue(
  sql: postgres.Sql,
  options: PostgresMessageQueueOptions = {},
): Promise<PostgresMessageQueue> {
  const table = tableName(options.tableName ?? "herald_queue");
  const schema = await createTablesOnce(
    sql,
    table,
    `CREATE TABLE IF NOT EXISTS "${table}" (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       message text NOT NULL,
       ordering_key text,
       created timestamptz NOT NULL DEFAULT now(),
       scheduled timestamptz NOT NULL,
       deliveries integer NOT NULL DEFAULT 0,
       lease_token uuid,
       lease_until timestamptz
     );
     CREATE INDEX IF NOT EXISTS "${table}_due" ON "${table}" (scheduled, id);
     CREATE INDEX IF NOT EXISTS "${table}_ordering" ON "${table}" (ordering_key)
       WHERE ordering_key IS NOT NULL;`,
  );
  return new PostgresMessageQueue(sql, schema, table, options);
}

/**
 * Fedify's message queue in PostgreSQL: durable, shared by every process on the same table.
 * Times are the database's, so processes whose clocks differ agree on due times and leases.
 *
 * A listener claims the oldest due message with `FOR UPDATE SKIP LOCKED` (listeners never
 * wait on each other's claims) and sets a lease on it. The row is deleted only after the
 * handler settled, so a message whose process died (even `kill -9`) is handed out again
 * when its lease runs out: delivery is at least once, and exactly once while leases are
 * renewed in time.
 *
 * Messages sharing an ordering key run one at a time, by due time then enqueue order: only
 * the first of a key is claimable, and not while another of the key is leased. Row locks
 * alone cannot guarantee that (a claim in progress is invisible to another one), so a claim
 * of a keyed message also takes a transaction advisory lock on the key, then checks again
 * in a snapshot taken after it.
 *
 * An enqueue or an acknowledgement that frees an ordering key sends a NOTIFY, so idle
 * listeners in every process claim at once; polling remains the fallback. `nativeRetrial`
 * is false: Fedify retries by enqueueing anew (see backends/sqlite/queue.ts). The client is the
 * caller's: abort the listeners and await `listen()` before ending it.
 */
export class PostgresMessageQueue implements MessageQueue {
  readonly nativeRetrial = false;

  readonly #sql: postgres.Sql;
  readonly #table: postgres.Helper<string>;
  /** Ends every advisory lock name of this table's ordering keys. */
  readonly #lockPrefix: string;
  /** At most 63 bytes, as PostgreSQL wants; the same in every process using the table. */
  readonly #channel: string;
  readonly #settings: ListenSettings;
  readonly #sleepers = new Sleepers();
  readonly #source: LeaseSource;
  /** Enqueues of this tick, written together by `#flush()`. */
  #batch: PendingEnqueue[] = [];

  /** Use {@link openPostgresMessageQueue}: the table must exist. */
  constructor(
    sql: postgres.Sql,
    schema: string,
    table: string,
    options: PostgresMessageQueueOptions = {},
  ) {
    this.#sql = sql;
    this.#table = sql(tableName(table));
    const qualified = JSON.stringify([schema, table]);
    this.#lockPrefix = `herald:queue:${qualified}:`;
    const hash = createHash("sha256").update(qualified).digest("hex").slice(0, 32);
    this.#channel = `herald_queue_${hash}`;
    this.#settings = listenSettings(options, 1_000);
    this.#source = {
      claim: (token) => this.#claim(token),
      renew: (lease, token) => this.#renew(lease, token),
      acknowledge: (lease, token) => this.#acknowledge(lease, token),
    };
  }

  /**
   * Durable once it resolves. The enqueues of one tick are written together (Fedify 2.3.6
   * enqueues a fan-out with an ordering key one message per inbox, all at once; see
   * backends/sqlite/queue.ts): one transaction of statements of 500 rows and one NOTIFY, where
   * 10,000 single inserts would each be a round trip and a commit.
   */
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  enqueue(message: any, options?: MessageQueueEnqueueOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#batch.length === 0) queueMicrotask(() => void this.#flush());
      this.#batch.push({ message, options, resolve, reject });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    const rows: { message: string; key: string | null; delayMs: number }[] = [];
    const accepted: PendingEnqueue[] = [];
    for (const pending of batch) {
      try {
        const { options } = pending;
        const delayMs = options?.delay == null ? 0 : Math.max(0, toMilliseconds(options.delay));
        rows.push({
          message: encodeMessage(pending.message),
          key: options?.orderingKey ?? null,
          delayMs,
        });
        accepted.push(pending);
      } catch (error) {
        pending.reject(error); // refused alone
      }
    }
    if (rows.length === 0) return;
    try {
      await this.#sql.begin(async (tx) => {
        for (let i = 0; i < rows.length; i += 500) {
          const chunk = rows.slice(i, i + 500);
          await tx`
            INSERT INTO ${this.#table} (message, ordering_key, scheduled)
            SELECT m, k, now() + d * interval '1 millisecond'
            FROM unnest(${chunk.map((r) => r.message)}::text[], ${chunk.map((r) => r.key)}::text[],
              ${chunk.map((r) => r.delayMs)}::double precision[]) WITH ORDINALITY AS t (m, k, d, n)
            ORDER BY n`;
        }
        await tx`SELECT pg_notify(${this.#channel}, '')`;
      });
    } catch (error) {
      for (const pending of accepted) pending.reject(error);
      return;
    }
    for (const pending of accepted) pending.resolve();
    this.#sleepers.wake();
  }

  /** All messages or none: one statement. */
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  async enqueueMany(messages: readonly any[], options?: MessageQueueEnqueueOptions): Promise<void> {
    if (messages.length === 0) return;
    await this.#insert(messages.map(encodeMessage), options);
  }

  /**
   * Runs `handler` on each message until `options.signal` aborts. After the abort no new
   * message is claimed; the promise resolves once the running handlers settled and their
   * messages were removed. It never rejects: database errors are logged and retried.
   */
  async listen(
    // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
    handler: (message: any) => Promise<void> | void,
    options: MessageQueueListenOptions = {},
  ): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return;
    let subscription: postgres.ListenMeta | undefined;
    try {
      // Also wakes after a reconnect of the listening connection: notifications may be lost.
      const wake = () => this.#sleepers.wake();
      subscription = await this.#sql.listen(this.#channel, wake, wake);
    } catch (error) {
      logger.warn("Could not LISTEN for new messages; polling only: {error}", { error });
    }
    try {
      await listenWithLeases(this.#source, handler, signal, this.#settings, this.#sleepers);
    } finally {
      await subscription?.unlisten().catch(() => {});
    }
  }

  async getDepth(): Promise<MessageQueueDepth> {
    const { queued, ready, delayed } = await this.depth();
    return { queued, ready, delayed };
  }

  /** Messages waiting (due now or later) and being handled, for an operator's self-test. */
  async depth(): Promise<QueueDepth> {
    const [row] = await this.#sql<{ in_flight: number; ready: number; delayed: number }[]>`
      SELECT
        count(*) FILTER (WHERE lease_until > now())::integer AS in_flight,
        count(*) FILTER (WHERE NOT coalesce(lease_until > now(), false)
          AND scheduled <= now())::integer AS ready,
        count(*) FILTER (WHERE NOT coalesce(lease_until > now(), false)
          AND scheduled > now())::integer AS delayed
      FROM ${this.#table}`;
    const ready = row?.ready ?? 0;
    const delayed = row?.delayed ?? 0;
    return { queued: ready + delayed, ready, delayed, inFlight: row?.in_flight ?? 0 };
  }

  async #insert(messages: string[], options: MessageQueueEnqueueOptions | undefined) {
    const delayMs = options?.delay == null ? 0 : Math.max(0, toMilliseconds(options.delay));
    // A data-modifying CTE always runs to completion; the NOTIFY goes out at commit.
    await this.#sql`
      WITH inserted AS (
        INSERT INTO ${this.#table} (message, ordering_key, scheduled)
        SELECT m, ${options?.orderingKey ?? null}::text,
          now() + ${delayMs}::double precision * interval '1 millisecond'
        FROM unnest(${messages}::text[]) WITH ORDINALITY AS t (m, n)
        ORDER BY n
      )
      SELECT pg_notify(${this.#channel}, '')`;
    this.#sleepers.wake();
  }

  /** Whether `m` is the first message of its ordering key and none of the key is leased. */
  #firstOfKey(): postgres.PendingQuery<postgres.Row[]> {
    return this.#sql`NOT EXISTS (
      SELECT 1 FROM ${this.#table} AS o
      WHERE o.ordering_key = m.ordering_key AND o.id <> m.id
        AND (o.lease_until > now() OR (o.scheduled, o.id) < (m.scheduled, m.id)))`;
  }

  async #claim(token: string): Promise<Claim> {
    // Keys whose advisory lock another listener holds right now: it is claiming their
    // first message, so this one looks past them.
    const busyKeys: string[] = [];
    for (;;) {
      type Outcome = { lease: Lease } | { busyKey: string } | { idleMs: number | undefined };
      const outcome = await this.#sql.begin(
        "isolation level read committed",
        async (tx): Promise<Outcome> => {
          const [candidate] = await tx<{ id: string; ordering_key: string | null }[]>`
          SELECT id, ordering_key FROM ${this.#table} AS m
          WHERE m.scheduled <= now()
            AND (m.lease_until IS NULL OR m.lease_until <= now())
            AND (m.ordering_key IS NULL OR (m.ordering_key <> ALL(${busyKeys}::text[])
              AND ${this.#firstOfKey()}))
          ORDER BY m.scheduled, m.id
          LIMIT 1
          FOR UPDATE SKIP LOCKED`;
          if (candidate === undefined) {
            // In the same transaction, so on the same clock reading (now() is its start): a
            // message falling due in between is either claimable above or counted here.
            const [next] = await tx<{ ms: number | null }[]>`
            SELECT (extract(epoch FROM min(scheduled) - now()) * 1000)::double precision AS ms
            FROM ${this.#table} WHERE scheduled > now()`;
            return { idleMs: next?.ms ?? undefined };
          }
          const { id, ordering_key: key } = candidate;
          if (key !== null) {
            const [lock] = await tx<{ locked: boolean }[]>`
            SELECT pg_try_advisory_xact_lock(
              hashtextextended(${this.#lockPrefix + key}, 0)) AS locked`;
            if (lock?.locked !== true) return { busyKey: key };
            // A new statement, so a new snapshot: every other claim of this key has
            // committed (each holds the key's lock until then) and shows here.
            const [check] = await tx<{ first: boolean }[]>`
            SELECT ${this.#firstOfKey()} AS first FROM ${this.#table} AS m WHERE m.id = ${id}`;
            if (check?.first !== true) return { busyKey: key };
          }
          const [lease] = await tx<Lease[]>`
          UPDATE ${this.#table}
          SET lease_token = ${token},
            lease_until = now() + ${this.#settings.leaseMs}::double precision
              * interval '1 millisecond',
            deliveries = deliveries + 1
          WHERE id = ${id}
          RETURNING id::text, message, deliveries`;
          return lease === undefined ? { idleMs: 0 } : { lease: { ...lease } };
        },
      );
      if (!("busyKey" in outcome)) return outcome;
      busyKeys.push(outcome.busyKey);
    }
  }

  async #renew(lease: Lease, token: string): Promise<boolean> {
    const rows = await this.#sql`
      UPDATE ${this.#table}
      SET lease_until = now() + ${this.#settings.leaseMs}::double precision
        * interval '1 millisecond'
      WHERE id = ${lease.id} AND lease_token = ${token}
      RETURNING 1`;
    return rows.length === 1;
  }

  async #acknowledge(lease: Lease, token: string): Promise<boolean> {
    const rows = await this.#sql<{ ordering_key: string | null }[]>`
      DELETE FROM ${this.#table} WHERE id = ${lease.id} AND lease_token = ${token}
      RETURNING ordering_key`;
    // The key's next message may be claimed now, by a listener in any process.
    if (rows[0]?.ordering_key != null) await this.#sql.notify(this.#channel, "");
    return rows.length === 1;
  }
}
