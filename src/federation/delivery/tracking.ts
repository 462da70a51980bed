/**
 * Writes the delivery ledger from what passes through Fedify's queue: an outbox message
 * enqueued is a pending delivery; when its handler returns, the delivery either was
 * re-enqueued by Fedify (a retry, or held while the host's circuit is open: still pending),
 * failed (Fedify reported an error and gave up, or the inbox refused it for good), or went
 * through. Fedify reports errors from inside the handler, so the attempt being handled is
 * found through the async context rather than by matching URLs.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { MessageQueue } from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import { RecentMap } from "../../recent-map.ts";
import { type DeliveryLedger, type QueuedDelivery, summarize } from "./ledger.ts";
import { hookOutboxMessages, isFanout, isOutbox, type OutboxMessage } from "./outbox-messages.ts";

const logger = getLogger(["herald", "federation", "deliveries"]);

/** The ledger's error for a delivery held while its host's circuit breaker is open. */
export const HELD = "held: circuit open after repeated failures";

interface Attempt {
  readonly message: OutboxMessage;
  requeued: boolean;
  error?: string;
}

export interface DeliveryTracking {
  /** The queue to give Fedify: the same queue, writing the ledger as messages pass. */
  readonly queue: MessageQueue;
  /** Notes an error of the delivery being handled (Fedify's `onOutboxError`). */
  failed(error: unknown): void;
}

/** How many activities' first rounds are remembered as reported (the newest). */
const REMEMBERED_ROUNDS = 1_000;

export function trackDeliveries(queue: MessageQueue, ledger: DeliveryLedger): DeliveryTracking {
  const current = new AsyncLocalStorage<Attempt>();
  const firstRounds = new FirstRounds(ledger);

  const record = async (messages: readonly unknown[]) => {
    const attempt = current.getStore();
    const deliveries: QueuedDelivery[] = [];
    for (const message of messages) {
      // A fan-out's deliveries are pending from the moment it is queued: its slices are
      // expanded one after the other, and their first tries may go out without ever being
      // queued one by one (`deliver-now.ts`).
      if (isFanout(message) && message.activityId !== undefined) {
        const { activityId } = message;
        const activityType = shortType(message.activityType);
        for (const inbox of Object.keys(message.inboxes)) {
          deliveries.push({ activityId, activityType, inbox, attempt: 0 });
        }
        continue;
      }
      if (!isOutbox(message) || message.activityId === undefined) continue;
      const again = attempt !== undefined && sameDelivery(attempt.message, message);
      if (again) attempt.requeued = true;
      deliveries.push({
        activityId: message.activityId,
        activityType: shortType(message.activityType),
        inbox: message.inbox,
        // Fedify holds a delivery with its attempt number unchanged; it was tried all the same.
        attempt: again ? Math.max(message.attempt, attempt.message.attempt + 1) : message.attempt,
        // A held delivery was not tried: say why it waits (the last error is in the log).
        error: attempt?.error ?? (message.circuitHeld === true ? HELD : undefined),
      });
    }
    if (deliveries.length > 0) await writeQueued(deliveries);
  };
  // Fedify enqueues a fan-out one message at a time, all in one tick: one ledger write for them.
  const writeQueued = inOneWrite((deliveries: QueuedDelivery[]) =>
    ledger.queued(deliveries).catch(logLedgerError),
  );

  const tracked = hookOutboxMessages(queue, {
    enqueued: record,
    async listen(message, handle) {
      const attempt: Attempt = { message, requeued: false };
      try {
        await current.run(attempt, handle);
      } catch (error) {
        attempt.error ??= describeError(error);
        throw error;
      } finally {
        await settle(ledger, firstRounds, attempt);
      }
    },
  });

  return {
    queue: tracked,
    failed(error) {
      const attempt = current.getStore();
      if (attempt !== undefined) attempt.error = describeError(error);
    },
  };
}

// One line when the activity's last delivery settles, and one (if some are still pending)
// when every inbox has been tried once: the first round of the fan-out is over.
async function settle(
  ledger: DeliveryLedger,
  firstRounds: FirstRounds,
  { message, requeued, error }: Attempt,
): Promise<void> {
  const activityId = message.activityId;
  if (activityId === undefined) return;
  try {
    let pending = true;
    if (!requeued) {
      const state = error === undefined ? "delivered" : "failed";
      ({ pending } = await ledger.settled(activityId, message.inbox, state, error));
    }
    if (!pending) await logSettled(ledger, activityId);
    else if (message.attempt === 0 && message.circuitHeld !== true) {
      if (!(await ledger.untried(activityId))) await firstRounds.over(activityId);
    }
  } catch (error) {
    logLedgerError(error);
  }
}

/** One line when an activity's last delivery settled: counts, and the hosts that failed. */
async function logSettled(ledger: DeliveryLedger, activityId: string): Promise<void> {
  const [report] = summarize(await ledger.rows({ activityId }));
  if (report === undefined) return;
  const failedHosts = report.hosts
    .filter((h) => h.failed > 0)
    .map((h) => `${h.host} (${h.error ?? "failed"})`);
  const values = {
    type: report.activityType,
    id: report.activityId,
    delivered: report.delivered,
    failed: report.failed,
    hosts: failedHosts.join(", "),
  };
  if (report.failed === 0) {
    logger.info("Delivered {type} {id} to {delivered} inboxes.", values);
  } else {
    logger.warn("Delivered {type} {id} to {delivered} inboxes; {failed} failed: {hosts}.", values);
  }
}

/**
 * The line for a fan-out's first round, once per activity. Every delivery that settles after the
 * last first try sees none untried (32 at once, as many as run together): the first of them
 * writes the line, if some delivery is still pending; else the line of the last delivery says it
 * all ("Delivered … to N inboxes").
 */
class FirstRounds {
  readonly #ledger: DeliveryLedger;
  /** Activities whose first round was reported (the last `REMEMBERED_ROUNDS`). */
  readonly #reported = new RecentMap<string, true>({ entries: REMEMBERED_ROUNDS });

  constructor(ledger: DeliveryLedger) {
    this.#ledger = ledger;
  }

  async over(activityId: string): Promise<void> {
    if (this.#reported.has(activityId)) return;
    this.#reported.set(activityId, true);
    await logFirstRound(this.#ledger, activityId);
  }
}

/** The counts once every inbox was tried, naming the hosts still pending and those failed. */
async function logFirstRound(ledger: DeliveryLedger, activityId: string): Promise<void> {
  const [report] = summarize(await ledger.rows({ activityId }));
  if (report === undefined || report.pending === 0) return;
  const hosts = (state: "pending" | "failed") =>
    report.hosts
      .filter((h) => h[state] > 0)
      .map((h) => `${h.host} (${h.error ?? state})`)
      .join(", ") || "none";
  logger.warn(
    "Sent {type} {id} once to every inbox: {delivered} delivered, {pending} pending, {failed} failed; retrying: {retrying}; failed: {failedHosts}.",
    {
      type: report.activityType,
      id: report.activityId,
      delivered: report.delivered,
      pending: report.pending,
      failed: report.failed,
      retrying: hosts("pending"),
      failedHosts: hosts("failed"),
    },
  );
}

/**
 * `write` for the items of every call made in the same tick, together: each call resolves once
 * the write that holds its items is done.
 */
function inOneWrite<T>(
  write: (items: T[]) => Promise<void>,
): (items: readonly T[]) => Promise<void> {
  let pending: T[] = [];
  let writing: Promise<void> | undefined;
  return (items) => {
    pending.push(...items);
    writing ??= Promise.resolve().then(() => {
      const all = pending;
      pending = [];
      writing = undefined;
      return write(all);
    });
    return writing;
  };
}

function sameDelivery(a: OutboxMessage, b: OutboxMessage): boolean {
  return a.activityId === b.activityId && a.inbox === b.inbox;
}

/**
 * A short reason: `HTTP 410` for an answer, else the error's first line (without the inbox
 * URL Fedify puts first) and its innermost cause's, e.g. `fetch failed: connect ECONNREFUSED
 * 127.0.0.1:8080` or `fetch failed: Headers Timeout Error`.
 */
export function describeError(error: unknown): string {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === "number" && status > 0) return `HTTP ${status}`;
  if (!(error instanceof Error)) return String(error).split("\n")[0] ?? "";
  let root: Error = error;
  for (let depth = 0; root.cause instanceof Error && depth < 10; depth++) root = root.cause;
  const first = (error.message.split("\n")[0] ?? "").replace(/^\S+:\/\/\S+: /, "");
  const inner = root === error || root.message === first ? "" : `: ${root.message}`;
  return `${first}${inner}`.slice(0, 200);
}

/** `Create` for `https://www.w3.org/ns/activitystreams#Create`. */
function shortType(type: string): string {
  return type.replace(/^.*[#/]/, "");
}

function logLedgerError(error: unknown): void {
  logger.error("Could not write the delivery ledger: {error}", { error });
}
