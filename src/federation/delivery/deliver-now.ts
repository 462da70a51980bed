/**
 * A fan-out delivered as it is expanded.
 *
 * Fedify 2.3.6 expands a queued fan-out (a slice of it: `fanout-slices.ts`) into one outbox
 * message per inbox and queues each (`#listenFanoutMessage()` in @fedify/fedify's
 * dist/middleware-*.js); the queue stores it, claims it back, leases it, hands it to the
 * listener and deletes it, and only then is the first try sent (`first-try.ts`). In a CPU
 * profile of `bench/fanout.ts` that bookkeeping was a fifth of the main thread's work per
 * delivery, for a message that almost always goes out once and succeeds.
 *
 * Here, while a fan-out message is being handled, each outbox message it queues whose first
 * try Herald would send right away (`firstTryIsNext()` of `first-try.ts`: no circuit-breaker
 * record for its host, draft-cavage for its origin) is instead run through the queue's listener
 * at once, exactly as if the queue had handed it out: the ledger, the first try, and Fedify's
 * handler for whatever does not simply succeed, which queues the retries as usual. Every other
 * message is stored, as before. The fan-outs a process expands share `concurrency` (the
 * `DELIVERY_WORKERS`) such deliveries at once, besides the queue's own workers.
 *
 * What holds it together:
 * - the fan-out message stays leased in the queue until all its deliveries are done, so a crash
 *   in the middle hands it out again, and then it skips the inboxes the ledger says it reached
 *   (one delivered in the moment before the crash, not yet in the ledger, may arrive twice,
 *   with the same activity id, which receivers drop);
 * - the slices of one story are handled one after the other (their ordering key), so its
 *   Update starts only once its Create was tried everywhere;
 * - a message that could not be run (the listener threw) is stored after all;
 * - once the queue is being stopped, what has not started is stored for the next start, and
 *   the stop waits only for the deliveries under way.
 *
 * Fedify also computes every inbox's FEP-8fcf header before the first delivery of a slice is
 * sent (for 1,000 servers of 10 followers, 10,000 digests, each awaited): here Fedify is handed
 * the fan-out without its followers collection, the digests of the slice's servers are read
 * from the follower store at once (kept there as followers come and go:
 * `FollowerStore.syncDigests()`), and each message gets its header (`collection-sync.ts`) as it
 * is delivered or stored.
 *
 * The price: a slice is done when its slowest delivery is, so a server that answers slowly
 * (at most `REQUEST_TIMEOUT_SECONDS`) holds up the next slice of that fan-out meanwhile. Servers
 * known to fail have a circuit-breaker record and go through the queue instead.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type {
  MessageQueue,
  MessageQueueEnqueueOptions,
  MessageQueueListenOptions,
} from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import { followerOrigin } from "../followers.ts";
import { syncHeader } from "./collection-sync.ts";
import {
  enqueueAll,
  type FanoutMessage,
  isFanout,
  isOutbox,
  type OutboxMessage,
  wrapQueue,
} from "./outbox-messages.ts";

const logger = getLogger(["herald", "federation", "deliveries"]);

// biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
type Handler = (message: any) => Promise<void> | void;

/** The queue's own listener, kept so a message can be run through it without being stored. */
export interface Runner {
  /** The queue to build on (innermost: its listener is the whole chain above it). */
  readonly queue: MessageQueue;
  /** Runs `message` through the listener; undefined when this process does not listen. */
  run(message: unknown): Promise<void> | undefined;
}

/** `queue`, remembering the listener it is given (see {@link Runner}). */
export function keepListener(queue: MessageQueue): Runner {
  let listener: Handler | undefined;
  return {
    queue: wrapQueue(queue, {
      listen(handler: Handler, options?: MessageQueueListenOptions) {
        listener = handler;
        return queue.listen(handler, options);
      },
    }),
    run: (message) => (listener === undefined ? undefined : Promise.resolve(listener(message))),
  };
}

/**
 * The FEP-8fcf digest (hex) of the followers on each of `origins` in the followers collection
 * `collectionId` (`FollowerStore.syncDigests()`); a server with none is absent.
 */
export type SyncDigests = (
  collectionId: string,
  origins: readonly string[],
) => Promise<ReadonlyMap<string, string>>;

/** What delivering now needs besides the queue: its listener, and the ledger's word. */
export interface DeliverNowDeps {
  /** `run()` of `keepListener()` around the queue under every other wrapper. */
  readonly run: Runner["run"];
  /** Which of `inboxes` the activity was delivered to (`DeliveryLedger.delivered()`). */
  readonly delivered: (
    activityId: string,
    inboxes: readonly string[],
  ) => Promise<ReadonlySet<string>>;
}

export interface DeliverNowOptions extends DeliverNowDeps {
  /** Whether a first try of `message` would be sent now (else it is stored). */
  readonly isNext: (message: OutboxMessage) => Promise<boolean>;
  /**
   * Called before a fan-out message is expanded: reads at once what `isNext` then asks about
   * each of its inboxes (`readCircuits()` of `kv-cache.ts`).
   */
  readonly beforeExpanding?: () => Promise<void>;
  /** Deliveries run at once for all the fan-outs being expanded (`DELIVERY_WORKERS`). */
  readonly concurrency: number;
  /** The digests of a fan-out's servers, for their deliveries' FEP-8fcf header. */
  readonly syncDigests: SyncDigests;
}

/** At most `size` pieces of work at once; the others wait their turn, first come first served. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line, or becomes free.
      const next = this.#waiting.shift();
      if (next === undefined) this.#free++;
      else next();
    }
  }
}

/** One fan-out message being handled. */
interface Expansion {
  /** The listener's signal: once it aborts, what has not started is stored. */
  readonly signal: AbortSignal | undefined;
  /** The inboxes this fan-out message already reached, when it is handed out again. */
  readonly reached: ReadonlySet<string>;
  /** The fan-out's followers collection, when its deliveries carry FEP-8fcf's header. */
  readonly collectionSync: string | undefined;
  /** With `collectionSync`: the digest of the followers on each of its servers, by origin. */
  readonly digests: ReadonlyMap<string, string>;
}

/** `queue`, delivering the first tries a fan-out queues as it is expanded (see above). */
export function deliverNow(queue: MessageQueue, options: DeliverNowOptions): MessageQueue {
  const expanding = new AsyncLocalStorage<Expansion>();
  // Shared by every fan-out this process expands at once.
  const slots = new Slots(options.concurrency);

  /**
   * `message` with the `Collection-Synchronization` header Fedify was not asked to compute: for
   * the server of the followers it is for (the `base-url`, as Fedify takes it from the first).
   * A server whose followers all left since the slice was read gets none.
   */
  const withSyncHeader = (expansion: Expansion, message: unknown): unknown => {
    const { collectionSync, digests } = expansion;
    if (collectionSync === undefined || !isOutbox(message)) return message;
    const origin = followerOrigin(message.actorIds[0]);
    const digest = origin === undefined ? undefined : digests.get(origin);
    if (origin === undefined || digest === undefined) return message;
    const header = syncHeader(collectionSync, origin, digest);
    return { ...message, headers: { ...message.headers, "Collection-Synchronization": header } };
  };

  const store = (messages: readonly unknown[], enqueueOptions?: MessageQueueEnqueueOptions) =>
    enqueueAll(queue, messages, enqueueOptions);

  /** What becomes of `message`, queued during `expansion`. */
  const route = async (
    expansion: Expansion,
    message: unknown,
    enqueueOptions?: MessageQueueEnqueueOptions,
  ): Promise<"skip" | "now" | "store"> => {
    if (!isOutbox(message)) return "store";
    if (message.attempt === 0 && expansion.reached.has(message.inbox)) return "skip";
    if (enqueueOptions?.delay !== undefined || !(await options.isNext(message))) return "store";
    return "now";
  };

  /** Runs `queued` through the listener in a slot; stores it if it cannot be run. */
  const deliver = (
    expansion: Expansion,
    queued: unknown,
    enqueueOptions?: MessageQueueEnqueueOptions,
  ) =>
    slots.run(async () => {
      // Its FEP-8fcf header is made here, once a slot is free, not before the first delivery.
      const message = withSyncHeader(expansion, queued);
      if (expansion.signal?.aborted !== true) {
        try {
          // Its retries and whatever else it queues are stored: it runs outside the expansion.
          const ran = expanding.exit(() => options.run(message));
          if (ran !== undefined) return await ran;
        } catch (error) {
          logger.error("Could not deliver to {inbox} now; queued instead: {error}", {
            inbox: (message as OutboxMessage).inbox,
            error,
          });
        }
      }
      await store([message], enqueueOptions);
    });

  /** `messages`, queued during `expansion`: each delivered now, stored, or skipped. */
  const expand = async (
    expansion: Expansion,
    messages: readonly unknown[],
    enqueueOptions?: MessageQueueEnqueueOptions,
  ) => {
    const later: unknown[] = [];
    const running: Promise<void>[] = [];
    for (const message of messages) {
      const to = await route(expansion, message, enqueueOptions);
      if (to === "now") running.push(deliver(expansion, message, enqueueOptions));
      else if (to === "store") later.push(withSyncHeader(expansion, message));
    }
    if (later.length > 0) await store(later, enqueueOptions);
    await Promise.all(running);
  };

  return wrapQueue(queue, {
    async enqueue(message, enqueueOptions?: MessageQueueEnqueueOptions) {
      const expansion = expanding.getStore();
      if (expansion === undefined) return await queue.enqueue(message, enqueueOptions);
      await expand(expansion, [message], enqueueOptions);
    },
    async enqueueMany(messages, enqueueOptions?: MessageQueueEnqueueOptions) {
      const expansion = expanding.getStore();
      if (expansion === undefined) return await store(messages, enqueueOptions);
      await expand(expansion, messages, enqueueOptions);
    },
    listen(handler: Handler, listenOptions?: MessageQueueListenOptions) {
      return queue.listen(async (message) => {
        if (!isFanout(message)) return await handler(message);
        await options.beforeExpanding?.();
        const reached =
          message.activityId === undefined
            ? new Set<string>()
            : await options.delivered(message.activityId, Object.keys(message.inboxes));
        const { collectionSync } = message;
        const digests =
          collectionSync === undefined
            ? new Map<string, string>()
            : await options.syncDigests(collectionSync, serversOf(message));
        const expansion: Expansion = {
          signal: listenOptions?.signal,
          reached,
          collectionSync,
          digests,
        };
        // Without its collection, Fedify leaves the header to `withSyncHeader()`.
        const bare = { ...message, collectionSync: undefined };
        return await expanding.run(expansion, () => handler(bare));
      }, listenOptions);
    },
  });
}

/**
 * The servers of the followers behind each inbox of `message` (the origin of the first named,
 * as each delivery's header takes it): Fedify's fan-out names them as `{ actorIds }` per inbox.
 */
function serversOf(message: FanoutMessage): string[] {
  const origins = new Set<string>();
  for (const entry of Object.values(message.inboxes)) {
    const origin = followerOrigin(
      (entry as { actorIds?: readonly string[] } | null)?.actorIds?.[0],
    );
    if (origin !== undefined) origins.add(origin);
  }
  return [...origins];
}
