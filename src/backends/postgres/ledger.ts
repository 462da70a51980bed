/** The delivery ledger (see `federation/delivery/ledger.ts`) in PostgreSQL, shared by every process. */
import type postgres from "postgres";
import {
  type DeliveryLedger,
  type DeliveryRow,
  type DeliveryState,
  KEEP_SETTLED_MS,
  PRUNE_EVERY_MS,
} from "../../federation/delivery/ledger.ts";
import { createTablesOnce } from "./tables.ts";

const TABLE = "herald_deliveries";

const DDL = `
  CREATE TABLE IF NOT EXISTS "${TABLE}" (
    activity_id   text NOT NULL,
    activity_type text NOT NULL,
    inbox         text NOT NULL,
    state         text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      integer NOT NULL,
    error         text,
    queued_at     timestamptz NOT NULL,
    PRIMARY KEY (activity_id, inbox)
  );
  CREATE INDEX IF NOT EXISTS "${TABLE}_by_age" ON "${TABLE}" (queued_at, activity_id);
  CREATE INDEX IF NOT EXISTS "${TABLE}_by_state" ON "${TABLE}" (activity_id, state, attempts);
`;

interface Row {
  readonly activity_id: string;
  readonly activity_type: string;
  readonly inbox: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly error: string | null;
  readonly queued_at: Date;
}

/** Creates the table in the client's current schema if missing; the client stays the caller's. */
export async function openPostgresDeliveryLedger(sql: postgres.Sql): Promise<DeliveryLedger> {
  await createTablesOnce(sql, TABLE, DDL);
  const table = sql(TABLE);
  let pruned = 0;
  return {
    async queued(deliveries) {
      if (deliveries.length === 0) return;
      const now = new Date();
      if (now.getTime() - pruned > PRUNE_EVERY_MS) {
        pruned = now.getTime();
        const before = new Date(now.getTime() - KEEP_SETTLED_MS);
        await sql`DELETE FROM ${table} WHERE queued_at < ${before} AND state <> 'pending'`;
      }
      // A fan-out's records come in one call (`tracking.ts`): one row per (activity, inbox),
      // the last record winning as one at a time would, and statements of at most 5,000 rows
      // (7 parameters each; PostgreSQL takes 65,535 parameters per statement).
      const latest = new Map(deliveries.map((d) => [`${d.activityId} ${d.inbox}`, d]));
      const rows = [...latest.values()].map((d) => ({
        activity_id: d.activityId,
        activity_type: d.activityType,
        inbox: d.inbox,
        state: "pending",
        attempts: d.attempt,
        error: d.error ?? null,
        queued_at: now,
      }));
      for (let i = 0; i < rows.length; i += 5000) {
        await sql`
          INSERT INTO ${table} ${sql(rows.slice(i, i + 5000))}
          ON CONFLICT (activity_id, inbox) DO UPDATE SET state = 'pending',
            attempts = greatest(${table}.attempts, excluded.attempts), error = coalesce(excluded.error, ${table}.error)`;
      }
    },
    async settled(activityId, inbox, state, error) {
      const [row] = await sql<{ pending: boolean }[]>`
        WITH settled AS (
          UPDATE ${table} SET state = ${state}, error = ${error ?? null}
          WHERE activity_id = ${activityId} AND inbox = ${inbox})
        SELECT EXISTS (
          SELECT 1 FROM ${table}
          WHERE activity_id = ${activityId} AND state = 'pending' AND inbox <> ${inbox}
        ) AS pending`;
      return { pending: row?.pending ?? false };
    },
    async delivered(activityId, inboxes) {
      if (inboxes.length === 0) return new Set();
      const rows = await sql<{ inbox: string }[]>`
        SELECT inbox FROM ${table}
        WHERE activity_id = ${activityId} AND inbox = ANY(${inboxes as string[]}) AND state = 'delivered'`;
      return new Set(rows.map((row) => row.inbox));
    },
    async untried(activityId) {
      const rows = await sql`
        SELECT 1 FROM ${table}
        WHERE activity_id = ${activityId} AND state = 'pending' AND attempts = 0 LIMIT 1`;
      return rows.length > 0;
    },
    async rows(options = {}) {
      const rows =
        options.activityId === undefined
          ? await sql<Row[]>`
              SELECT * FROM ${table} WHERE activity_id IN (
                SELECT activity_id FROM ${table}
                GROUP BY activity_id ORDER BY min(queued_at) DESC LIMIT ${options.limit ?? 10})`
          : await sql<Row[]>`SELECT * FROM ${table} WHERE activity_id = ${options.activityId}`;
      return rows.map(
        (row): DeliveryRow => ({
          activityId: row.activity_id,
          activityType: row.activity_type,
          inbox: row.inbox,
          state: row.state,
          attempts: row.attempts,
          error: row.error,
          queuedAt: row.queued_at,
        }),
      );
    },
  };
}
