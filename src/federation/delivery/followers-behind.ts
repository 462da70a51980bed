/**
 * The followers behind each inbox of a fan-out, named again as it is handed out.
 *
 * A delivery to followers gives Fedify one recipient per inbox (`dispatchFollowers()` of
 * `collections.ts`), so its fan-out message names one follower per inbox. As the queue hands
 * out such a message (one slice of the fan-out: `fanout-slices.ts`), this names every follower
 * behind each of its inboxes again, read from the followers store: a delivery whose inbox is
 * gone names them all (`gone-servers.ts`), and Fedify, where it makes a delivery's FEP-8fcf
 * header itself (without `deliver-now.ts`, which reads the digest the store keeps), digests them. A fan-out to followers is one whose followers
 * collection is named for synchronization; every other message passes as it is.
 */
import type { MessageQueue, MessageQueueListenOptions } from "@fedify/fedify";
import { type FanoutMessage, isFanout, wrapQueue } from "./outbox-messages.ts";

/**
 * The followers behind each of `inboxes` (delivery inboxes, as `InboxGroup.inbox`) in the
 * followers collection `collectionId`, by inbox; an inbox with none left is absent.
 */
export type FollowersBehind = (
  collectionId: string,
  inboxes: readonly string[],
) => Promise<ReadonlyMap<string, readonly string[]>>;

// biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
type Handler = (message: any) => Promise<void> | void;

/** `queue`, handing out each fan-out to followers with every follower behind its inboxes. */
export function nameFollowersBehind(
  queue: MessageQueue,
  followersBehind: FollowersBehind,
): MessageQueue {
  return wrapQueue(queue, {
    listen(handler: Handler, options?: MessageQueueListenOptions) {
      return queue.listen(async (message) => {
        if (!isFanout(message) || message.collectionSync === undefined) {
          return await handler(message);
        }
        const behind = await followersBehind(message.collectionSync, Object.keys(message.inboxes));
        return await handler(withFollowers(message, behind));
      }, options);
    },
  });
}

/** `message` naming the followers `behind` each of its inboxes. */
function withFollowers(
  message: FanoutMessage,
  behind: ReadonlyMap<string, readonly string[]>,
): FanoutMessage {
  const inboxes: Record<string, unknown> = {};
  for (const [inbox, entry] of Object.entries(message.inboxes)) {
    const actorIds = behind.get(inbox);
    // A server whose followers all left since keeps the follower it was queued for.
    inboxes[inbox] = actorIds === undefined ? entry : { ...(entry as object), actorIds };
  }
  return { ...message, inboxes };
}
