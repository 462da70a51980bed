import { DatabaseSync } from "node:sqlite";
import { describe, expect, it, onTestFinished } from "vitest";
import { openSqliteDeliveryLedger } from "../../../src/backends/sqlite/ledger.ts";
import { openSqliteMessageQueue } from "../../../src/backends/sqlite/queue.ts";
import type { QueuedDelivery } from "../../../src/federation/delivery/ledger.ts";
import { trackDeliveries } from "../../../src/federation/delivery/tracking.ts";

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
});
