import type { MessageQueueDepth } from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import { toMilliseconds } from "./duration.ts";

const logger = getLogger(["herald", "federation", "queue"]);

type Duration = Temporal.Duration | Temporal.DurationLikeObject;

/** The listener options every shared queue of ours takes. */
export interface LeaseOptions {
  /**
   * How often an idle listener looks for messages when nothing woke it: the fallback for a
   * lost wake-up, and how soon a message whose listener died is seen once its lease ran out.
   */
  readonly pollInterval?: Duration;
  /**
   * How long a claimed message stays reserved for its listener. A running handler renews
   * the lease every third of it; a message whose listener died is handed out again once the
   * lease has run out. 30 s by default.
   */
  readonly lease?: Duration;
  /**
   * Handlers one `listen()` runs at once. 1 by default. Use this, not Fedify's
   * `ParallelMessageQueue` (2.3.6): its handler returns before the work is done, so the
   * message would be removed early and lost if the process died.
   */
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

/** A message handed to one listener, reserved for it until the lease runs out. */
export interface Lease {
  readonly id: string;
  /** The message as JSON text. */
  readonly message: string;
  /** How often it was handed out, this time included. */
  readonly deliveries: number;
}

/** What a queue's storage does for {@link listenWithLeases}. */
export interface LeaseSource<L extends Lease = Lease> {
  /**
   * Claims the next due message for `token`, or answers how many milliseconds until one
   * may be due (`undefined`: nothing known to come).
   */
  claim(token: string): Promise<{ readonly lease: L } | { readonly idleMs?: number | undefined }>;
  /** Extends the lease; false if it is no longer `token`'s. */
  renew(lease: L, token: string): Promise<boolean>;
  /** Removes the handled message; false if it was no longer leased to `token`. */
  acknowledge(lease: L, token: string): Promise<boolean>;
  /**
   * Optional, for a store where each write is a commit of its own (SQLite): in one write,
   * removes the handled messages `done` (each only if still leased to its token), then claims up
   * to `count` due messages for `token`, never two with the same ordering key. With it,
   * {@link listenWithLeases} claims for all its idle workers at once and acknowledges in
   * batches: one commit per round instead of two per message.
   */
  settleAndClaim?(done: readonly Finished<L>[], token: string, count: number): Promise<Round<L>>;
}

/** A handled message waiting for its acknowledgement. */
export interface Finished<L extends Lease = Lease> {
  readonly lease: L;
  readonly token: string;
}

/** What one {@link LeaseSource.settleAndClaim} did. */
export interface Round<L extends Lease = Lease> {
  /** Per entry of `done`: whether it was still leased to its token (and is now removed). */
  readonly acknowledged: readonly boolean[];
  readonly leases: readonly L[];
  /** With fewer leases than asked for: milliseconds until a delayed message is due, if any. */
  readonly idleMs?: number | undefined;
}

export interface ListenSettings {
  readonly pollMs: number;
  readonly leaseMs: number;
  readonly workers: number;
  readonly maxDeliveries: number;
}

/** Checks and fills in {@link LeaseOptions}. */
export function listenSettings(options: LeaseOptions, defaultPollMs: number): ListenSettings {
  const settings = {
    pollMs: options.pollInterval == null ? defaultPollMs : toMilliseconds(options.pollInterval),
    leaseMs: toMilliseconds(options.lease ?? { seconds: 30 }),
    workers: options.workers ?? 1,
    maxDeliveries: options.maxDeliveries ?? 5,
  };
  if (!(settings.pollMs > 0 && settings.leaseMs > 0)) {
    throw new RangeError("The poll interval and the lease must be positive.");
  }
  if (!(Number.isInteger(settings.workers) && settings.workers >= 1)) {
    throw new RangeError(`workers must be a positive integer (got ${settings.workers}).`);
  }
  return settings;
}

/** Idle listeners, woken early by a local enqueue, a notification from elsewhere, or an abort. */
export class Sleepers {
  readonly #sleepers = new Set<() => void>();
  #wakes = 0;

  /** Counts wake-ups; pass it to `sleep()` to skip the sleep if one came since. */
  get wakes(): number {
    return this.#wakes;
  }

  /**
   * Sleeps `ms`, or less if woken or aborted. With `since` (a `wakes` value read before
   * looking for work), does not sleep at all if a wake-up came in the meantime: a message
   * enqueued while a listener was finding nothing must not wait for the next poll.
   */
  sleep(ms: number, signal: AbortSignal | undefined, since?: number): Promise<void> {
    if (signal?.aborted || (since !== undefined && since !== this.#wakes)) {
      return Promise.resolve();
    }
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

  wake(): void {
    this.#wakes++;
    for (const wake of [...this.#sleepers]) wake();
  }
}

/**
 * Runs `handler` on each message `source` hands out, `settings.workers` at a time, until
 * `signal` aborts; then waits for the running handlers and their acknowledgements. Never
 * rejects: storage errors are logged and retried after a poll interval.
 *
 * A message is acknowledged (removed) only after its handler settled; a failed handler's
 * message is logged and dropped too, since Fedify retries by enqueueing anew
 * (`nativeRetrial` is false).
 */
export async function listenWithLeases<L extends Lease>(
  source: LeaseSource<L>,
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  handler: (message: any) => Promise<void> | void,
  signal: AbortSignal | undefined,
  settings: ListenSettings,
  sleepers: Sleepers,
): Promise<void> {
  if (source.settleAndClaim !== undefined) {
    const settleAndClaim = source.settleAndClaim.bind(source);
    await listenInRounds(source, settleAndClaim, handler, signal, settings, sleepers);
    return;
  }
  const work = async () => {
    while (signal?.aborted !== true) {
      const token = crypto.randomUUID();
      const wakes = sleepers.wakes;
      let claimed: Awaited<ReturnType<LeaseSource<L>["claim"]>>;
      try {
        claimed = await source.claim(token);
      } catch (error) {
        logger.error("Could not claim a message; trying again: {error}", { error });
        await sleepers.sleep(settings.pollMs, signal);
        continue;
      }
      if ("lease" in claimed) {
        await handle(source, claimed.lease, token, handler, settings);
        // An acknowledgement may free an ordering key another idle listener of ours awaits.
        sleepers.wake();
      } else {
        const idle = Math.min(settings.pollMs, Math.max(1, claimed.idleMs ?? Infinity));
        await sleepers.sleep(idle, signal, wakes);
      }
    }
  };
  await Promise.all(Array.from({ length: settings.workers }, work));
}

/**
 * {@link listenWithLeases} over `settleAndClaim`: one loop claims for all idle workers at once
 * and starts their handlers; the acknowledgements of the handlers that finished meanwhile go
 * into the next round's write. Handlers finishing in the same turn of the event loop are
 * gathered (`setImmediate`) into one round, so a busy queue needs far fewer writes than
 * messages. A message is still removed only after its handler settled; a round that fails
 * keeps its acknowledgements for the next one.
 */
async function listenInRounds<L extends Lease>(
  source: LeaseSource<L>,
  settleAndClaim: NonNullable<LeaseSource<L>["settleAndClaim"]>,
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  handler: (message: any) => Promise<void> | void,
  signal: AbortSignal | undefined,
  settings: ListenSettings,
  sleepers: Sleepers,
): Promise<void> {
  const running = new Set<Promise<void>>();
  let finished: Finished<L>[] = [];
  /** Resolves the loop's wait when a handler finished: a free slot, an acknowledgement to write. */
  let nudge: (() => void) | undefined;
  const start = (lease: L, token: string) => {
    const run = runHandler(source, lease, token, handler, settings).then(() => {
      running.delete(run);
      finished.push({ lease, token });
      nudge?.();
    });
    running.add(run);
  };
  /** One write; answers the wake-up count to sleep on, or undefined if the write failed. */
  const round = async (count: number, wakes: number) => {
    const done = finished;
    finished = [];
    const token = crypto.randomUUID();
    let result: Round<L>;
    try {
      result = await settleAndClaim(done, token, count);
    } catch (error) {
      finished.unshift(...done); // still leased: acknowledged with the next round
      logger.error("Could not claim or acknowledge messages; trying again: {error}", { error });
      return undefined;
    }
    done.forEach(({ lease }, i) => {
      if (result.acknowledged[i] !== true) {
        logger.warn("Message {id} was no longer leased to this listener when it finished.", {
          id: lease.id,
        });
      }
    });
    for (const lease of result.leases) start(lease, token);
    let since = wakes;
    if (done.length > 0) {
      // An acknowledgement may free an ordering key another idle listener of ours awaits. This
      // loop's own wake-up need not wake itself (the round claimed after acknowledging); one
      // from elsewhere since `wakes` must.
      const quiet = sleepers.wakes === wakes;
      sleepers.wake();
      if (quiet) since = sleepers.wakes;
    }
    const full = result.leases.length >= count;
    const idleMs = Math.min(settings.pollMs, Math.max(1, result.idleMs ?? Infinity));
    return { since, full, idleMs };
  };
  while (signal?.aborted !== true) {
    const wakes = sleepers.wakes;
    const count = settings.workers - running.size;
    const next =
      finished.length === 0 && count === 0
        ? { since: wakes, full: true, idleMs: settings.pollMs }
        : await round(count, wakes);
    if (next === undefined) {
      // The write failed: a poll interval before trying again, finished handlers or not.
      await sleepers.sleep(settings.pollMs, signal);
    } else if (finished.length === 0) {
      const slot = new Promise<void>((resolve) => {
        nudge = resolve;
      });
      // Every worker busy: wait for one to finish. Else also for a wake-up or the next poll.
      const waits: Promise<void>[] = [slot];
      if (!next.full || running.size < settings.workers) {
        waits.push(sleepers.sleep(next.idleMs, signal, next.since));
      }
      await Promise.race(waits);
      nudge = undefined;
    }
    // Gather the handlers finishing in this turn of the event loop into one round.
    await new Promise((resolve) => setImmediate(resolve));
  }
  while (running.size > 0) await Promise.all(running);
  while (finished.length > 0) {
    if ((await round(0, sleepers.wakes)) === undefined) {
      await new Promise((resolve) => setTimeout(resolve, settings.pollMs));
    }
  }
}

async function handle<L extends Lease>(
  source: LeaseSource<L>,
  lease: L,
  token: string,
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  handler: (message: any) => Promise<void> | void,
  settings: ListenSettings,
): Promise<void> {
  await runHandler(source, lease, token, handler, settings);
  await acknowledge(source, lease, token);
}

/**
 * Runs `handler` on the message, renewing its lease meanwhile; a failure is logged (the message
 * is dropped, see above). A message handed out too often is dropped without running it.
 */
async function runHandler<L extends Lease>(
  source: LeaseSource<L>,
  lease: L,
  token: string,
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  handler: (message: any) => Promise<void> | void,
  settings: ListenSettings,
): Promise<void> {
  const { id, deliveries, message } = lease;
  if (deliveries > settings.maxDeliveries) {
    logger.error("Dropped message {id}: handed out {deliveries} times and never acknowledged.", {
      id,
      deliveries,
      message,
    });
    return;
  }
  let renewing = Promise.resolve();
  const renewal = setInterval(() => {
    renewing = renew(source, lease, token);
  }, settings.leaseMs / 3);
  try {
    await handler(JSON.parse(message));
  } catch (error) {
    logger.error("Dropped message {id}: its handler failed: {error}", { id, error, message });
  } finally {
    clearInterval(renewal);
  }
  await renewing; // a renewal landing after the acknowledgement would report a lost lease
}

async function renew<L extends Lease>(source: LeaseSource<L>, lease: L, token: string) {
  try {
    if (!(await source.renew(lease, token))) {
      logger.warn("Lost the lease on message {id}; another listener may run it too.", {
        id: lease.id,
      });
    }
  } catch (error) {
    logger.warn("Could not renew the lease on message {id}: {error}", { id: lease.id, error });
  }
}

async function acknowledge<L extends Lease>(source: LeaseSource<L>, lease: L, token: string) {
  try {
    if (!(await source.acknowledge(lease, token))) {
      logger.warn("Message {id} was no longer leased to this listener when it finished.", {
        id: lease.id,
      });
    }
  } catch (error) {
    // The message stays; it is handed out again when the lease runs out.
    logger.error("Could not remove handled message {id}: {error}", { id: lease.id, error });
  }
}

// biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
export function encodeMessage(message: any): string {
  const json = JSON.stringify(message);
  if (json === undefined) {
    throw new TypeError(`A queued message must be JSON (got ${typeof message}).`);
  }
  return json;
}
