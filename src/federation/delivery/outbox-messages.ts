/**
 * Fedify's queued outbox messages (one per inbox of a delivery) and fan-out messages, as
 * Herald's queue wrappers see them: the ledger (`tracking.ts`), the first try (`first-try.ts`),
 * the slices (`fanout-slices.ts`) and delivering as a fan-out is expanded (`deliver-now.ts`);
 * and `wrapQueue()`, what every wrapper of the queue is made with.
 */
import type { JsonWebKey } from "node:crypto";
import type {
  MessageQueue,
  MessageQueueEnqueueOptions,
  MessageQueueListenOptions,
} from "@fedify/fedify";

/**
 * The fields of Fedify 2.3.6's queued outbox message that Herald reads (`OutboxMessage`, not
 * exported by Fedify: `sendActivity()` in @fedify/fedify's dist/middleware-*.js builds it).
 */
export interface OutboxMessage {
  readonly type: "outbox";
  readonly keys: readonly { readonly keyId: string; readonly privateKey: JsonWebKey }[];
  readonly activity: unknown;
  readonly activityId?: string;
  readonly activityType: string;
  readonly inbox: string;
  /** The followers the delivery is for, all on the inbox's server. */
  readonly actorIds: readonly string[];
  /** 0 for the first try; a retry's number. */
  readonly attempt: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Set when Fedify holds the message because the host's circuit is open. */
  readonly circuitHeld?: boolean;
}

/**
 * The fields of Fedify 2.3.6's queued fan-out message (one activity to many inboxes, expanded
 * into outbox messages by its handler) that Herald reads (`sendActivity()` of its context builds it).
 */
export interface FanoutMessage {
  readonly type: "fanout";
  readonly id: string;
  readonly activityId?: string;
  readonly activityType: string;
  readonly inboxes: Readonly<Record<string, unknown>>;
  /** A delivery to followers: their collection's id, for FEP-8fcf's header. */
  readonly collectionSync?: string;
}

export function isFanout(message: unknown): message is FanoutMessage {
  const candidate = message as Partial<FanoutMessage> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    candidate.type === "fanout" &&
    typeof candidate.id === "string" &&
    typeof candidate.inboxes === "object" &&
    candidate.inboxes !== null
  );
}

export function isOutbox(message: unknown): message is OutboxMessage {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { type?: unknown }).type === "outbox"
  );
}

// biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
type Handler = (message: any) => Promise<void> | void;

export interface OutboxQueueHooks {
  /** Runs each outbox message instead of the listener Fedify registered, which `handle` runs. */
  readonly listen: (message: OutboxMessage, handle: () => Promise<void>) => Promise<void>;
  /**
   * Before `queue.enqueue()`, with every message about to be queued: a message may be handed
   * out (and done) as soon as it is stored.
   */
  readonly enqueued?: (messages: readonly unknown[]) => Promise<void>;
}

/**
 * `queue` whose listeners hand each outbox message to `hooks.listen` (every other message goes
 * straight to Fedify's listener), and which tells `hooks.enqueued` of the messages it queues.
 */
export function hookOutboxMessages(queue: MessageQueue, hooks: OutboxQueueHooks): MessageQueue {
  const enqueued = hooks.enqueued ?? (async () => {});
  return wrapQueue(queue, {
    async enqueue(message, options?: MessageQueueEnqueueOptions) {
      await enqueued([message]);
      await queue.enqueue(message, options);
    },
    async enqueueMany(messages, options?: MessageQueueEnqueueOptions) {
      await enqueued(messages);
      await enqueueAll(queue, messages, options);
    },
    listen(handler: Handler, options?: MessageQueueListenOptions) {
      return queue.listen(async (message) => {
        if (!isOutbox(message)) return await handler(message);
        await hooks.listen(message, async () => await handler(message));
      }, options);
    },
  });
}

/** `messages` into `queue`: in one `enqueueMany()` where it has one, else one by one. */
export async function enqueueAll(
  queue: MessageQueue,
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  messages: readonly any[],
  options: MessageQueueEnqueueOptions | undefined,
): Promise<void> {
  if (queue.enqueueMany !== undefined) return await queue.enqueueMany(messages, options);
  for (const message of messages) await queue.enqueue(message, options);
}

/**
 * `queue` with some of its methods replaced by `parts`; the others, `nativeRetrial` and
 * `getDepth` are `queue`'s own. Herald's queue wrappers are made with it.
 */
export function wrapQueue(
  queue: MessageQueue,
  parts: Partial<Pick<MessageQueue, "enqueue" | "enqueueMany" | "listen">>,
): MessageQueue {
  const enqueueMany = parts.enqueueMany ?? queue.enqueueMany?.bind(queue);
  const getDepth = queue.getDepth?.bind(queue);
  return {
    ...(queue.nativeRetrial === undefined ? {} : { nativeRetrial: queue.nativeRetrial }),
    enqueue: parts.enqueue ?? queue.enqueue.bind(queue),
    ...(enqueueMany === undefined ? {} : { enqueueMany }),
    listen: parts.listen ?? queue.listen.bind(queue),
    ...(getDepth === undefined ? {} : { getDepth }),
  };
}
