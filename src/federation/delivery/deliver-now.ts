/**
 * A fan-out delivered as it is expanded.
 *
 * Fedify 2.3.6 expands a queued fan-out (a slice of it: `fanout-slices.ts`) into one outbox
 * message per inbox and queues each (`#listenFanoutMessage()` in @fedify/fedify's
 * dist/middleware-*.js); the queue stores it, claims it back, leases it, hands it to the
 * listener and deletes it, and only then is the first try sent (`first-try.ts`). For a fan-out
 * that bookkeeping was a fifth of the main thread's work per delivery (a CPU profile of
 * `bench/fanout.ts`, docs/BENCHMARKS.md "Fan-out"), for a message that almost always goes out
 * once and succeeds.
 *
 * Here, while a fan-out message is being handled, each outbox message it queues whose first
 * try Herald would send right away (`firstTryIsNext()` of `first-try.ts`: no circuit-breaker
 * record for its host, draft-cavage for its origin) is instead run through the queue's listener
 * at once, exactly as if the queue had handed it out (the ledger, the first try and Fedify's
 * handler for whatever does not simply succeed, which queues its retries as usual), at most
 * `concurrency` at a time. Every other message is stored, as before.
 *
 * What holds it together: the fan-out message stays leased in the queue until all of its
 * deliveries are done, so a crash in the middle hands it out again, and then it skips the
 * inboxes the ledger says it reached (a delivery made in the moment before the crash, not yet
 * in the ledger, may arrive twice, with the same id, which receivers drop);
 * the slices of one story are handled one after the other, so a story's Update still starts
 * after its Create was tried everywhere; a message that could not be run (the listener threw)
 * is stored after all; and once the queue is being stopped, what has not started is stored
 * for the next start instead of delaying the stop.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type {
  MessageQueue,
  MessageQueueEnqueueOptions,
  MessageQueueListenOptions,
} from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import {
  enqueueAll,
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
  /** Deliveries run at once for one fan-out message (`DELIVERY_WORKERS`). */
  readonly concurrency: number;
}

/** One fan-out message being handled: its deliveries run now, `concurrency` at a time. */
class Expansion {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  readonly concurrency: number;
  readonly signal: AbortSignal | undefined;
  /** The inboxes this fan-out message already reached, when it is handed out again. */
  readonly reached: ReadonlySet<string>;

  constructor(concurrency: number, signal: AbortSignal | undefined, reached: ReadonlySet<string>) {
    this.concurrency = concurrency;
    this.signal = signal;
    this.reached = reached;
  }

  async slot<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.concurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await work();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}

/** Whether `message` is a first try for an inbox its fan-out already reached (see above). */
function reachedBefore(expansion: Expansion, message: unknown): boolean {
  return isOutbox(message) && message.attempt === 0 && expansion.reached.has(message.inbox);
}

/** `queue`, delivering the first tries a fan-out queues as it is expanded (see above). */
export function deliverNow(queue: MessageQueue, options: DeliverNowOptions): MessageQueue {
  const expanding = new AsyncLocalStorage<Expansion>();

  const store = (messages: readonly unknown[], enqueueOptions?: MessageQueueEnqueueOptions) =>
    enqueueAll(queue, messages, enqueueOptions);

  /** Whether `message`, queued now, is delivered at once (else it is stored). */
  const now = async (message: unknown, enqueueOptions?: MessageQueueEnqueueOptions) =>
    enqueueOptions?.delay === undefined && isOutbox(message) && (await options.isNext(message));

  const deliver = async (
    expansion: Expansion,
    message: unknown,
    enqueueOptions?: MessageQueueEnqueueOptions,
  ) => {
    await expansion.slot(async () => {
      // Its retries and anything else it queues are stored: it runs outside the expansion.
      const ran = expansion.signal?.aborted
        ? undefined
        : expanding.exit(() => options.run(message));
      if (ran === undefined) return await store([message], enqueueOptions);
      try {
        await ran;
      } catch (error) {
        logger.error("Could not deliver to {inbox} now; queued instead: {error}", {
          inbox: (message as OutboxMessage).inbox,
          error,
        });
        await store([message], enqueueOptions);
      }
    });
  };

  const enqueue = async (message: unknown, enqueueOptions?: MessageQueueEnqueueOptions) => {
    const expansion = expanding.getStore();
    if (expansion !== undefined && reachedBefore(expansion, message)) return;
    if (expansion !== undefined && (await now(message, enqueueOptions))) {
      return await deliver(expansion, message, enqueueOptions);
    }
    await queue.enqueue(message, enqueueOptions);
  };

  return wrapQueue(queue, {
    enqueue,
    async enqueueMany(messages, enqueueOptions?: MessageQueueEnqueueOptions) {
      const expansion = expanding.getStore();
      if (expansion === undefined) return await store(messages, enqueueOptions);
      const later: unknown[] = [];
      const running: Promise<void>[] = [];
      for (const message of messages) {
        if (reachedBefore(expansion, message)) continue;
        if (await now(message, enqueueOptions)) {
          running.push(deliver(expansion, message, enqueueOptions));
        } else later.push(message);
      }
      if (later.length > 0) await store(later, enqueueOptions);
      await Promise.all(running);
    },
    listen(handler: Handler, listenOptions?: MessageQueueListenOptions) {
      return queue.listen(async (message) => {
        if (!isFanout(message)) return await handler(message);
        const reached =
          message.activityId === undefined
            ? new Set<string>()
            : await options.delivered(message.activityId, Object.keys(message.inboxes));
        const expansion = new Expansion(options.concurrency, listenOptions?.signal, reached);
        return await expanding.run(expansion, () => handler(message));
      }, listenOptions);
    },
  });
}
