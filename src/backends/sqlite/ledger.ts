import type { DatabaseSync } from "node:sqlite";
import {
  type DeliveryLedger,
  type DeliveryState,
  KEEP_SETTLED_MS,
  PRUNE_EVERY_MS,
} from "../../federation/delivery/ledger.ts";
import { immediate } from "./connection.ts";

interface Settling {
  readonly activityId: string;
  readonly inbox: string;
  readonly state: Exclude<DeliveryState, "pending">;
  readonly error: string | null;
  readonly resolve: (answer: { readonly pending: boolean }) => void;
  readonly reject: (error: unknown) => void;
}

/** The ledger in the embedded SQLite database. */
export function openSqliteDeliveryLedger(db: DatabaseSync): DeliveryLedger {
  createTables(db);
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
  // One statement for a whole slice of inboxes (a JSON array), not one per inbox: a fresh
  // fan-out's expansion asks it before its first delivery.
  const deliveredAmong = db.prepare(`
    SELECT inbox FROM federation_deliveries
    WHERE activity_id = ? AND state = 'delivered' AND inbox IN (SELECT value FROM json_each(?))`);
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
  /**
   * Each delivery of a fan-out settles on its own, and alone each write would be a commit of its
   * own (a third of the SQLite time per delivery, docs/benchmarks-history.md "Fan-out"): those
   * settled in one turn of the event loop are written in one transaction. Each resolves once it
   * committed; only the last of an activity's settlements in a write can answer "none pending",
   * so the activity's last delivery is still reported once.
   */
  let settling: Settling[] = [];
  const writeSettled = () => {
    const batch = settling;
    settling = [];
    try {
      immediate(db, () => {
        for (const s of batch) settle.run(s.state, s.error, s.activityId, s.inbox);
      });
    } catch (error) {
      for (const { reject } of batch) reject(error);
      return;
    }
    const last = new Map<string, Settling>();
    for (const s of batch) last.set(s.activityId, s);
    for (const s of batch) {
      const pending = last.get(s.activityId) !== s || anyPending.get(s.activityId) !== undefined;
      s.resolve({ pending });
    }
  };
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
    settled(activityId, inbox, state, error) {
      return new Promise((resolve, reject) => {
        if (settling.length === 0) setImmediate(writeSettled);
        settling.push({ activityId, inbox, state, error: error ?? null, resolve, reject });
      });
    },
    async delivered(activityId, inboxes) {
      const rows = deliveredAmong.all(activityId, JSON.stringify(inboxes));
      return new Set(rows.map((row) => String(row.inbox)));
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

function createTables(db: DatabaseSync): void {
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
}
