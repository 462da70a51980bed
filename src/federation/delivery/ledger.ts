/**
 * The delivery ledger: for every activity sent, each inbox it is queued for and how that
 * went: pending (queued, being retried, or held while the host's circuit is open), delivered,
 * or failed (refused for good, or given up on). It is a record for people, written beside
 * Fedify's queue (`federation/delivery/tracking.ts`); each engine keeps it in its room
 * (`backends/sqlite/ledger.ts`, `backends/postgres/ledger.ts`). One decision reads it: a
 * fan-out slice handed out again (its process died while delivering it) skips the inboxes it
 * already reached (`deliver-now.ts`).
 */

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
  /**
   * Which of `inboxes` the activity was delivered to: a fan-out slice handed out again after a
   * crash skips them (`deliver-now.ts`).
   */
  delivered(activityId: string, inboxes: readonly string[]): Promise<ReadonlySet<string>>;
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
