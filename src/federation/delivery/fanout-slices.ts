/**
 * A fan-out to many servers, queued in slices.
 *
 * Fedify 2.3.6 queues a fan-out as one message naming every inbox (`sendActivityInternal()` in
 * @fedify/fedify's dist/middleware-*.js), and its handler (`#listenFanoutMessage()`) turns it
 * into one outbox message per inbox in one go: for 10,000 servers, 10,000 messages, each with
 * its FEP-8fcf digest, built and held together while they are queued. This queue splits such a
 * message, as it is queued, into messages of at most `slice` inboxes each, written in one
 * transaction under one ordering key, so the queue hands them out one after the other: the
 * handler holds one slice at a time, and the first slice's deliveries start while the next
 * is being built. The slices carry the message's own ordering key, so what is queued after
 * them with that key (the story's Update) still comes after all of them.
 */
import type { MessageQueue, MessageQueueEnqueueOptions } from "@fedify/fedify";
import { enqueueAll, isFanout, wrapQueue } from "./outbox-messages.ts";

/**
 * Inboxes per slice: enough that a slice's own work (Fedify parses and signs the activity again
 * for each) is small beside its deliveries.
 */
export const FANOUT_SLICE = 1000;

/** `message` as messages of at most `slice` inboxes each (itself when it is not a larger fan-out). */
export function sliceFanout<T>(message: T, slice: number): T[] {
  if (!isFanout(message)) return [message];
  const entries = Object.entries(message.inboxes);
  if (entries.length <= slice) return [message];
  const slices: T[] = [];
  for (let start = 0; start < entries.length; start += slice) {
    slices.push({
      ...message,
      // The first keeps the message's id; Fedify names a fan-out by it in its log only.
      id: start === 0 ? message.id : crypto.randomUUID(),
      inboxes: Object.fromEntries(entries.slice(start, start + slice)),
    });
  }
  return slices;
}

/** `queue`, queueing each fan-out of more than `slice` inboxes as slices (see above). */
export function sliceFanouts(queue: MessageQueue, slice: number = FANOUT_SLICE): MessageQueue {
  return wrapQueue(queue, {
    async enqueue(message, options?: MessageQueueEnqueueOptions) {
      const slices = sliceFanout(message, slice);
      if (slices.length === 1) return await queue.enqueue(message, options);
      // One at a time even without a key of the message's own: the slices share one.
      const inOrder = { ...options, orderingKey: options?.orderingKey ?? `fanout ${message.id}` };
      await enqueueAll(queue, slices, inOrder);
    },
  });
}
