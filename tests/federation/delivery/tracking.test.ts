import { DatabaseSync } from "node:sqlite";
import type { MessageQueue } from "@fedify/fedify";
import { describe, expect, it, onTestFinished } from "vitest";
import { openSqliteDeliveryLedger } from "../../../src/backends/sqlite/ledger.ts";
import { openSqliteMessageQueue } from "../../../src/backends/sqlite/queue.ts";
import type { QueuedDelivery } from "../../../src/federation/delivery/ledger.ts";
import { trackDeliveries } from "../../../src/federation/delivery/tracking.ts";
import { captureLog, logText } from "../../helpers/log.ts";

describe("trackDeliveries()", () => {
  it("records a fan-out's deliveries, enqueued one by one in one tick, in one ledger write", async () => {
    const db = new DatabaseSync(":memory:");
    onTestFinished(() => db.close());
    const ledger = openSqliteDeliveryLedger(db);
    const writes: (readonly QueuedDelivery[])[] = [];
    const counted = {
      ...ledger,
      queued: (deliveries: readonly QueuedDelivery[]) => {
        writes.push(deliveries);
        return ledger.queued(deliveries);
      },
    };
    const { queue } = trackDeliveries(openSqliteMessageQueue(db), counted);
    const activityId = "https://news.test/objects/1#create";
    // What Fedify 2.3.6 does for a fan-out with an ordering key: one enqueue() per inbox.
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        queue.enqueue(
          {
            type: "outbox",
            activityId,
            activityType: "https://www.w3.org/ns/activitystreams#Create",
            inbox: `https://s${i}.test/inbox`,
            attempt: 0,
          },
          { orderingKey: `story\nhttps://s${i}.test` },
        ),
      ),
    );
    expect(writes).toHaveLength(1);
    expect(writes[0]).toHaveLength(50);
    const rows = await ledger.rows({ activityId });
    expect(rows).toHaveLength(50);
    expect(rows.every((row) => row.state === "pending" && row.activityType === "Create")).toBe(
      true,
    );
    // A later enqueue is a write of its own.
    await queue.enqueue(
      {
        type: "outbox",
        activityId,
        activityType: "Create",
        inbox: "https://late.test/inbox",
        attempt: 0,
      },
      {},
    );
    expect(writes).toHaveLength(2);
  });

  /**
   * A fan-out of `count` inboxes handed out all at once, as the queue's workers and
   * `deliver-now.ts` do; the inboxes in `retried` fail their first try and are queued again.
   * Answers the lines the ledger's tracking wrote.
   */
  async function fanOut(count: number, retried: ReadonlySet<number>): Promise<string[]> {
    const log = await captureLog();
    const db = new DatabaseSync(":memory:");
    onTestFinished(() => db.close());
    let handle: ((message: unknown) => Promise<void>) | undefined;
    // The queue under the tracking: it keeps the listener, so the test hands out the messages.
    const inner: MessageQueue = {
      enqueue: async () => {},
      listen: (handler) => {
        handle = async (message) => await handler(message);
        return new Promise(() => {});
      },
    };
    const { queue } = trackDeliveries(inner, openSqliteDeliveryLedger(db));
    void queue.listen(async (message) => {
      const i = Number(/s(\d+)/.exec(message.inbox)?.[1]);
      if (retried.has(i)) await queue.enqueue({ ...message, attempt: 1 });
    });
    const messages = Array.from({ length: count }, (_, i) => ({
      type: "outbox",
      activityId: "https://news.test/objects/1#create",
      activityType: "https://www.w3.org/ns/activitystreams#Create",
      inbox: `https://s${i}.test/inbox`,
      attempt: 0,
      keys: [],
      actorIds: [],
    }));
    await queue.enqueueMany?.(messages, {});
    await Promise.all(messages.map((message) => handle?.(message)));
    return log.map(logText);
  }

  it("says once that a fan-out was delivered everywhere, and nothing of a first round", async () => {
    const lines = await fanOut(40, new Set());
    expect(lines.filter((line) => line.startsWith("Delivered Create"))).toEqual([
      "Delivered Create https://news.test/objects/1#create to 40 inboxes.",
    ]);
    expect(lines.filter((line) => line.includes("once to every inbox"))).toEqual([]);
  });

  it("says once, when every inbox was tried, which are still pending", async () => {
    const lines = await fanOut(40, new Set([3, 17, 29]));
    expect(lines.filter((line) => line.includes("once to every inbox"))).toEqual([
      "Sent Create https://news.test/objects/1#create once to every inbox: 37 delivered, 3 pending, 0 failed; retrying: s17.test (pending), s29.test (pending), s3.test (pending); failed: none.",
    ]);
    expect(lines.filter((line) => line.startsWith("Delivered"))).toEqual([]);
  });
});
