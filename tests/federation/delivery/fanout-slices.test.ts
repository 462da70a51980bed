import { DatabaseSync } from "node:sqlite";
import { buildCollectionSynchronizationHeader, MemoryKvStore } from "@fedify/fedify";
import { describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";
import { openSqliteMessageQueue } from "../../../src/backends/sqlite/queue.ts";
import { sliceFanout } from "../../../src/federation/delivery/fanout-slices.ts";
import { type OutboxMessage, wrapQueue } from "../../../src/federation/delivery/outbox-messages.ts";
import { createFederationPublisher } from "../../../src/federation/delivery/publisher.ts";
import { buildFederation } from "../../../src/federation/federation.ts";
import { makeArticle } from "../../helpers/article-fixture.ts";
import { accountKeys, created, memoryArticleStore, ORIGIN, PUBLISHED } from "../fixtures.ts";

/** A fan-out message as Fedify 2.3.6 queues it, to `count` shared inboxes. */
function fanout(count: number) {
  const inboxes: Record<string, { actorIds: string[]; sharedInbox: boolean }> = {};
  for (let i = 0; i < count; i++) {
    inboxes[`https://s${i}.test/inbox`] = {
      actorIds: [`https://s${i}.test/users/a`],
      sharedInbox: true,
    };
  }
  return {
    type: "fanout",
    id: crypto.randomUUID(),
    baseUrl: ORIGIN.href,
    keys: [{ keyId: `${ORIGIN.href}users/news#main-key`, privateKey: { kty: "RSA" } }],
    inboxes,
    activity: { type: "Create", id: `${ORIGIN.href}objects/1#create` },
    activityId: `${ORIGIN.href}objects/1#create`,
    activityType: "https://www.w3.org/ns/activitystreams#Create",
    collectionSync: `${ORIGIN.href}users/news/followers`,
    orderingKey: `${ORIGIN.href}objects/1`,
  };
}

describe("sliceFanout()", () => {
  it("splits a fan-out into slices of the inboxes, each the same message otherwise", () => {
    const message = fanout(12);
    const slices = sliceFanout(message, 5);
    expect(slices.map((slice) => Object.keys(slice.inboxes).length)).toEqual([5, 5, 2]);
    expect(slices.flatMap((slice) => Object.entries(slice.inboxes))).toEqual(
      Object.entries(message.inboxes),
    );
    for (const slice of slices) {
      const { id: _id, inboxes: _inboxes, ...rest } = slice;
      const { id: _original, inboxes: _all, ...expected } = message;
      expect(rest).toEqual(expected);
    }
    expect(slices[0]?.id).toBe(message.id);
    expect(new Set(slices.map((slice) => slice.id)).size).toBe(3);
  });

  it("leaves a fan-out within the slice, and every other message, as it is", () => {
    const small = fanout(5);
    expect(sliceFanout(small, 5)[0]).toBe(small);
    const outbox = { type: "outbox", inbox: "https://s1.test/inbox" };
    expect(sliceFanout(outbox, 5)).toEqual([outbox]);
  });
});

describe("a fan-out through Fedify and the SQLite queue, in slices", () => {
  it("queues slices that are expanded one at a time into one delivery per server", async () => {
    const db = new DatabaseSync(":memory:");
    // Eight workers: the slices wait for each other because of their ordering key, not for a worker.
    const sqlite = openSqliteMessageQueue(db, { pollInterval: { milliseconds: 20 }, workers: 8 });
    const followers = openSqliteFollowerStore(db);
    for (let i = 0; i < 12; i++) {
      for (const name of ["alice", "bob"]) {
        await followers.add({
          id: new URL(`https://s${i}.test/users/${name}`),
          inbox: new URL(`https://s${i}.test/users/${name}/inbox`),
          sharedInbox: new URL(`https://s${i}.test/inbox`),
          followId: new URL(`https://s${i}.test/follows/${name}`),
          createdAt: PUBLISHED,
        });
      }
    }
    // What the queue hands out: the slices to Fedify (counting how many run at once), the
    // deliveries only recorded, never sent.
    const slices: number[] = [];
    const deliveries: OutboxMessage[] = [];
    let running = 0;
    let most = 0;
    const queue = wrapQueue(sqlite, {
      listen: (handler, options) =>
        sqlite.listen(async (message) => {
          if (message.type === "outbox") {
            deliveries.push(message);
            return;
          }
          slices.push(Object.keys(message.inboxes).length);
          most = Math.max(most, ++running);
          try {
            await handler(message);
          } finally {
            running--;
          }
        }, options),
    });
    const federation = buildFederation(
      { origin: ORIGIN, username: "news", fanoutSlice: 5 },
      {
        store: memoryArticleStore([]),
        kv: new MemoryKvStore(),
        queue,
        keys: await accountKeys(),
        followers,
      },
    );
    const publish = createFederationPublisher(
      federation,
      { firstScan: async () => undefined },
      { origin: ORIGIN, username: "news", quietImport: { firstScan: false } },
    );
    await publish([created(makeArticle(), 1)]);
    expect(sqlite.depth().ready).toBe(3);

    const stop = new AbortController();
    const delivering = federation.startQueue(undefined, { signal: stop.signal });
    await expect.poll(() => deliveries.length, { timeout: 10_000 }).toBe(12);
    stop.abort();
    await delivering;

    expect(slices).toEqual([5, 5, 2]);
    expect(most).toBe(1);
    expect(new Set(deliveries.map((d) => d.inbox)).size).toBe(12);
    // Fedify was told of one follower per server; each delivery names both, and its FEP-8fcf
    // header is of both.
    for (const delivery of deliveries) {
      const server = new URL(delivery.inbox).origin;
      const both = [`${server}/users/alice`, `${server}/users/bob`];
      expect([...delivery.actorIds].sort()).toEqual(both);
      expect(delivery.headers?.["Collection-Synchronization"]).toBe(
        await buildCollectionSynchronizationHeader(`${ORIGIN.href}users/news/followers`, both),
      );
    }
    db.close();
  });
});
