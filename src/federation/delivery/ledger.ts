/**
 * The delivery ledger: for every activity sent, each inbox it is queued for and how that
 * went: pending (queued, being retried, or held while the host's circuit is open), delivered,
 * or failed (refused for good, or given up on). It is a record for people, written beside
 * Fedify's queue (src/federation/delivery-tracking.ts), never read to decide a delivery.
 */
import type { DatabaseSync } from "node:sqlite";
import { immediate } from "../../backends/sqlite/connection.ts";

export type DeliveryState = "pending" | "delivered" | "failed";

export interface QueuedDelivery {
  readonly activityId: string;
  readonly activityType: string;
  readonly inbox: string;
  /** 0 for the first try; a retry's number. */
  readonly attempt: number;
  /** The previous attempt's error, for a retry. */
  readonly error?: string | undefined;
}

export interface DeliveryRow {
  readonly activityId: string;
  readonly activityType: string;
  readonly inbox: string;
  readonly state: DeliveryState;
  /** Passes through the queue so far; 0 = not tried yet (a held delivery counts as tried). */
  readonly attempts: number;
  readonly error: string | null;
  readonly queuedAt: Date;
}

/** Settled deliveries are kept this long, then forgotten (checked at most hourly). */
export const KEEP_SETTLED_MS = 30 * 24 * 60 * 60 * 1000;
export const PRUNE_EVERY_MS = 60 * 60 * 1000;

export interface DeliveryLedger {
  /** Records deliveries as pending: new ones, and retries (with the error that caused them). */
  queued(deliveries: readonly QueuedDelivery[]): Promise<void>;
  /** Records how a delivery ended; answers whether the activity still has pending ones. */
  settled(
    activityId: string,
    inbox: string,
    state: Exclude<DeliveryState, "pending">,
    error?: string,
  ): Promise<{ readonly pending: boolean }>;
  /** Whether some delivery of the activity is pending and not yet tried (attempts 0). */
  untried(activityId: string): Promise<boolean>;
  /** The rows of the `limit` most recently queued activities (default 10), or of one activity. */
  rows(options?: { readonly limit?: number; readonly activityId?: string }): Promise<DeliveryRow[]>;
}

export interface HostReport {
  readonly host: string;
  readonly delivered: number;
  readonly pending: number;
  readonly failed: number;
  /** Why: a failed inbox's error if any failed, else a pending one's. */
  readonly error?: string;
}

export interface ActivityReport {
  readonly activityId: string;
  readonly activityType: string;
  readonly queuedAt: Date;
  readonly delivered: number;
  readonly pending: number;
  readonly failed: number;
  /** Hosts, those with failures or pending deliveries first. */
  readonly hosts: readonly HostReport[];
}

/** Groups ledger rows into one report per activity (newest first) and per host. */
export function summarize(rows: readonly DeliveryRow[]): ActivityReport[] {
  const activities = new Map<string, { report: ActivityReport; hosts: Map<string, HostReport> }>();
  for (const row of rows) {
    let entry = activities.get(row.activityId);
    if (entry === undefined) {
      entry = {
        report: {
          activityId: row.activityId,
          activityType: row.activityType,
          queuedAt: row.queuedAt,
          delivered: 0,
          pending: 0,
          failed: 0,
          hosts: [],
        },
        hosts: new Map(),
      };
      activities.set(row.activityId, entry);
    }
    const host = new URL(row.inbox).host;
    const before = entry.hosts.get(host) ?? { host, delivered: 0, pending: 0, failed: 0 };
    // A failure's reason outranks a pending delivery's (rows come in no particular order).
    const error =
      row.error == null || row.state === "delivered"
        ? before.error
        : row.state === "failed" && before.failed === 0
          ? row.error
          : (before.error ?? row.error);
    entry.hosts.set(host, {
      ...before,
      [row.state]: before[row.state] + 1,
      ...(error === undefined ? {} : { error }),
    });
    const report = entry.report;
    entry.report = {
      ...report,
      queuedAt: row.queuedAt.getTime() < report.queuedAt.getTime() ? row.queuedAt : report.queuedAt,
      [row.state]: report[row.state] + 1,
    };
  }
  const troubled = (h: HostReport) => (h.failed > 0 ? 2 : h.pending > 0 ? 1 : 0);
  return [...activities.values()]
    .map(({ report, hosts }) => ({
      ...report,
      hosts: [...hosts.values()].sort(
        (a, b) => troubled(b) - troubled(a) || a.host.localeCompare(b.host),
      ),
    }))
    .sort((a, b) => b.queuedAt.getTime() - a.queuedAt.getTime());
}

/** The ledger in the embedded SQLite database. */
export function createSqliteDeliveryLedger(db: DatabaseSync): DeliveryLedger {
  db.exec(`
    CREATE TABLE IF NOT EXISTS federation_deliveries (
      activity_id   TEXT NOT NULL,
      activity_type TEXT NOT NULL,
      inbox         TEXT NOT NULL,
      state         TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts      INTEGER NOT NULL,
      error         TEXT,
      queued_at     INTEGER NOT NULL,
      PRIMARY KEY (activity_id, inbox)
    ) STRICT;
    CREATE INDEX IF NOT EXISTS federation_deliveries_by_age
      ON federation_deliveries (queued_at, activity_id);
    -- "Anything still pending / untried?" after each delivery of a fan-out: without it each
    -- question scans the activity's settled rows, quadratic in the number of followers.
    CREATE INDEX IF NOT EXISTS federation_deliveries_by_state
      ON federation_deliveries (activity_id, state, attempts);
  `);
  // A retry keeps the first `queued_at` and counts the attempt; a settled delivery queued
  // again (Fedify re-sending the same activity) starts over as pending. A delivery held
  // while its host's circuit is open comes with no error of its own: keep the last one.
  const upsert = db.prepare(`
    INSERT INTO federation_deliveries
      (activity_id, activity_type, inbox, state, attempts, error, queued_at)
    VALUES (?, ?, ?, 'pending', ?, ?, ?)
    ON CONFLICT (activity_id, inbox) DO UPDATE SET
      state = 'pending', attempts = max(attempts, excluded.attempts), error = coalesce(excluded.error, error)`);
  const settle = db.prepare(
    "UPDATE federation_deliveries SET state = ?, error = ? WHERE activity_id = ? AND inbox = ?",
  );
  const anyPending = db.prepare(
    "SELECT 1 FROM federation_deliveries WHERE activity_id = ? AND state = 'pending' LIMIT 1",
  );
  const anyUntried = db.prepare(`
    SELECT 1 FROM federation_deliveries
    WHERE activity_id = ? AND state = 'pending' AND attempts = 0 LIMIT 1`);
  const recent = db.prepare(`
    SELECT * FROM federation_deliveries WHERE activity_id IN (
      SELECT activity_id FROM federation_deliveries
      GROUP BY activity_id ORDER BY min(queued_at) DESC LIMIT ?)`);
  const one = db.prepare("SELECT * FROM federation_deliveries WHERE activity_id = ?");
  const prune = db.prepare(
    "DELETE FROM federation_deliveries WHERE queued_at < ? AND state <> 'pending'",
  );
  let pruned = 0;
  return {
    async queued(deliveries) {
      const now = Date.now();
      if (now - pruned > PRUNE_EVERY_MS) {
        prune.run(now - KEEP_SETTLED_MS);
        pruned = now;
      }
      immediate(db, () => {
        for (const d of deliveries) {
          upsert.run(d.activityId, d.activityType, d.inbox, d.attempt, d.error ?? null, now);
        }
      });
    },
    async settled(activityId, inbox, state, error) {
      settle.run(state, error ?? null, activityId, inbox);
      return { pending: anyPending.get(activityId) !== undefined };
    },
    async untried(activityId) {
      return anyUntried.get(activityId) !== undefined;
    },
    async rows(options = {}) {
      const rows =
        options.activityId === undefined
          ? recent.all(options.limit ?? 10)
          : one.all(options.activityId);
      return rows.map((row) => ({
        activityId: String(row.activity_id),
        activityType: String(row.activity_type),
        inbox: String(row.inbox),
        state: row.state as DeliveryState,
        attempts: Number(row.attempts),
        error: row.error == null ? null : String(row.error),
        queuedAt: new Date(Number(row.queued_at)),
      }));
    },
  };
}
