/**
 * Fedify's queued outbox messages (one per inbox of a delivery), as Herald's queue wrappers see
 * them: the ledger (`tracking.ts`) and the first try (`first-try.ts`).
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
  /** 0 for the first try; a retry's number. */
  readonly attempt: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Set when Fedify holds the message because the host's circuit is open. */
  readonly circuitHeld?: boolean;
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
  /** After `queue.enqueue()`. */
  readonly enqueued?: (messages: readonly unknown[]) => Promise<void>;
}

/**
 * `queue` whose listeners hand each outbox message to `hooks.listen` (every other message goes
 * straight to Fedify's listener), and which tells `hooks.enqueued` of the messages it queued.
 */
export function hookOutboxMessages(queue: MessageQueue, hooks: OutboxQueueHooks): MessageQueue {
  const enqueued = hooks.enqueued ?? (async () => {});
  return {
    get nativeRetrial() {
      return queue.nativeRetrial;
    },
    async enqueue(message, options?: MessageQueueEnqueueOptions) {
      await queue.enqueue(message, options);
      await enqueued([message]);
    },
    async enqueueMany(messages, options?: MessageQueueEnqueueOptions) {
      if (queue.enqueueMany === undefined) {
        for (const message of messages) await queue.enqueue(message, options);
      } else {
        await queue.enqueueMany(messages, options);
      }
      await enqueued(messages);
    },
    listen(handler: Handler, options?: MessageQueueListenOptions) {
      return queue.listen(async (message) => {
        if (!isOutbox(message)) return await handler(message);
        await hooks.listen(message, async () => await handler(message));
      }, options);
    },
    ...(queue.getDepth === undefined ? {} : { getDepth: () => queue.getDepth?.() }),
  } as MessageQueue;
}
