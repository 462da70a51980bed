import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DatabaseSync } from "node:sqlite";
import {
  buildCollectionSynchronizationHeader,
  MemoryKvStore,
  type MessageQueue,
} from "@fedify/fedify";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";
import { openSqliteDeliveryLedger } from "../../../src/backends/sqlite/ledger.ts";
import { openSqliteMessageQueue } from "../../../src/backends/sqlite/queue.ts";
import { keepListener } from "../../../src/federation/delivery/deliver-now.ts";
import { circuitKey } from "../../../src/federation/delivery/kv-cache.ts";
import { isFanout, isOutbox, wrapQueue } from "../../../src/federation/delivery/outbox-messages.ts";
import { createOutgoingDispatcher } from "../../../src/federation/delivery/outgoing.ts";
import { createFederationPublisher } from "../../../src/federation/delivery/publisher.ts";
import { trackDeliveries } from "../../../src/federation/delivery/tracking.ts";
import { buildFederation } from "../../../src/federation/federation.ts";
import { makeArticle } from "../../helpers/article-fixture.ts";
import { accountKeys, created, memoryArticleStore, ORIGIN, PUBLISHED } from "../fixtures.ts";

const before = getGlobalDispatcher();
beforeAll(() => {
  setGlobalDispatcher(createOutgoingDispatcher({ timeoutMs: 5000, userAgent: "Herald/test" }));
});
afterAll(() => setGlobalDispatcher(before));

const servers: Server[] = [];
/** Requests being answered by all the inbox servers at once, and the most seen. */
const inFlight = { now: 0, most: 0 };
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

interface Inbox {
  readonly url: string;
  readonly host: string;
  /** The activity types POSTed to it, in order. */
  readonly got: string[];
  /** The signature spec of each POST: `cavage` or `rfc9421`. */
  readonly specs: string[];
  /** The `Collection-Synchronization` header of each POST. */
  readonly syncs: (string | undefined)[];
}

/** A server on loopback whose shared inbox answers `status` after `delayMs`. */
async function inboxServer(status: number, delayMs = 0): Promise<Inbox> {
  const got: string[] = [];
  const specs: string[] = [];
  const syncs: (string | undefined)[] = [];
  const server = createServer((request, response) => {
    specs.push(request.headers["signature-input"] === undefined ? "cavage" : "rfc9421");
    syncs.push(request.headers["collection-synchronization"] as string | undefined);
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      got.push((JSON.parse(Buffer.concat(chunks).toString()) as { type: string }).type);
      inFlight.now++;
      inFlight.most = Math.max(inFlight.most, inFlight.now);
      setTimeout(() => {
        inFlight.now--;
        response.writeHead(status).end();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/inbox`, host: `127.0.0.1:${port}`, got, specs, syncs };
}

const follower = (i: number, name = "a") => `https://follower${i}.test/users/${name}`;

/** FEP-8fcf's header for a delivery to server `i`'s followers (default two), as Fedify builds it. */
const syncHeader = (i: number, names = ["a", "b"]) =>
  buildCollectionSynchronizationHeader(
    `${ORIGIN.origin}/users/news/followers`,
    names.map((name) => follower(i, name)),
  );

/** A database with two followers on each of `inboxes`, each their server's shared inbox. */
async function followersOn(inboxes: readonly Inbox[]): Promise<DatabaseSync> {
  const db = new DatabaseSync(":memory:");
  const followers = openSqliteFollowerStore(db);
  for (const [i, inbox] of inboxes.entries()) {
    for (const name of ["a", "b"]) {
      await followers.add({
        id: new URL(follower(i, name)),
        inbox: new URL(inbox.url),
        sharedInbox: new URL(inbox.url),
        followId: new URL(`https://follower${i}.test/follows/${name}`),
        createdAt: PUBLISHED,
      });
    }
  }
  return db;
}

/**
 * Herald's delivery stack on `db` as `openAccount()` assembles it (one process of it): the
 * queue (counting the outbox messages it stores), the ledger, the listener kept for delivering
 * now, and the federation with slices of `slice` inboxes.
 */
async function deliveryStack(db: DatabaseSync, options: { slice: number; workers: number }) {
  const sqlite = openSqliteMessageQueue(db, { pollInterval: { milliseconds: 20 }, workers: 4 });
  const stored: { inbox: string; attempt: number; headers?: Record<string, string> }[] = [];
  const fanouts: unknown[] = [];
  const note = (message: unknown) => {
    if (isOutbox(message)) stored.push(message);
    if (isFanout(message)) fanouts.push(message);
  };
  const counting: MessageQueue = wrapQueue(sqlite, {
    async enqueue(message, enqueueOptions) {
      note(message);
      await sqlite.enqueue(message, enqueueOptions);
    },
    async enqueueMany(messages, enqueueOptions) {
      for (const message of messages) note(message);
      await sqlite.enqueueMany(messages, enqueueOptions);
    },
  });
  const ledger = openSqliteDeliveryLedger(db);
  const runner = keepListener(counting);
  const deliveries = trackDeliveries(runner.queue, ledger);
  const kv = new MemoryKvStore();
  const federation = buildFederation(
    {
      origin: ORIGIN,
      username: "news",
      allowPrivateAddress: true,
      fanoutSlice: options.slice,
      deliveryWorkers: options.workers,
    },
    {
      store: memoryArticleStore([]),
      kv,
      queue: deliveries.queue,
      deliverNow: {
        run: runner.run,
        delivered: (activityId, inboxes) => ledger.delivered(activityId, inboxes),
      },
      keys: await accountKeys(),
      followers: openSqliteFollowerStore(db),
      onDeliveryError: deliveries.failed,
    },
  );
  const publish = createFederationPublisher(
    federation,
    { firstScan: async () => undefined },
    { origin: ORIGIN, username: "news", quietImport: { firstScan: false } },
  );
  const stop = new AbortController();
  const delivering = federation.startQueue(undefined, { signal: stop.signal });
  return {
    kv,
    sqlite,
    stored,
    fanouts,
    ledger,
    publish,
    async stop() {
      stop.abort();
      await delivering;
    },
  };
}

describe("a fan-out delivered as it is expanded", () => {
  it("sends each first try without storing it, and stores only what failed or must wait", async () => {
    const healthy = await Promise.all(Array.from({ length: 7 }, () => inboxServer(202)));
    const failing = await inboxServer(503);
    const troubled = await inboxServer(202);
    const db = await followersOn([...healthy, failing, troubled]);
    const stack = await deliveryStack(db, { slice: 3, workers: 2 });
    // A host with a circuit-breaker record waits its turn in the queue, as before.
    await stack.kv.set(circuitKey(troubled.host), { state: "closed", failures: [] });
    await stack.publish([created(makeArticle(), 1)]);

    const delivered = async () =>
      (await stack.ledger.rows()).filter((row) => row.state === "delivered").length;
    await expect.poll(delivered, { timeout: 10_000 }).toBe(8);
    // The first try, then Fedify's second knock in the other spec (it knocks twice on a
    // failure), and nothing more until the retry in a minute.
    await expect.poll(() => failing.specs, { timeout: 10_000 }).toEqual(["cavage", "rfc9421"]);
    await stack.stop();

    for (const inbox of [...healthy, troubled]) expect(inbox.got).toEqual(["Create"]);
    // Stored: the troubled host's first try, and the failing server's retry; nothing else.
    expect(stack.stored.map((m) => [m.inbox, m.attempt])).toEqual(
      expect.arrayContaining([
        [troubled.url, 0],
        [failing.url, 1],
      ]),
    );
    expect(stack.stored).toHaveLength(2);
    // Every delivery carries FEP-8fcf's header, as Fedify would have built it: those sent at
    // once, and those stored (the troubled host's, the failing one's retry).
    for (const [i, inbox] of [...healthy, failing, troubled].entries()) {
      expect(inbox.syncs[0]).toBe(await syncHeader(i));
    }
    for (const message of stack.stored) {
      const i = [...healthy, failing, troubled].findIndex((inbox) => inbox.url === message.inbox);
      expect(message.headers?.["Collection-Synchronization"]).toBe(await syncHeader(i));
    }
    const rows = await stack.ledger.rows();
    expect(rows).toHaveLength(9);
    expect(rows.find((row) => row.inbox === failing.url)).toMatchObject({
      state: "pending",
      attempts: 1,
      error: "HTTP 503",
    });
    db.close();
  });

  it("gives each delivery the digest of its server's followers as they are, after a follow and an unfollow", async () => {
    const inboxes = await Promise.all(Array.from({ length: 2 }, () => inboxServer(202)));
    const db = await followersOn(inboxes);
    const stack = await deliveryStack(db, { slice: 2, workers: 2 });
    const sent = (count: number) => () => inboxes.every((inbox) => inbox.got.length === count);
    await stack.publish([created(makeArticle({ id: "one", slug: "one" }), 1)]);
    await expect.poll(sent(1), { timeout: 10_000 }).toBe(true);
    // Server 0 gains a follower behind its shared inbox; server 1 loses one.
    const followers = openSqliteFollowerStore(db);
    const [zero, one] = inboxes;
    await followers.add({
      id: new URL(follower(0, "c")),
      inbox: new URL(zero?.url ?? ""),
      sharedInbox: new URL(zero?.url ?? ""),
      followId: new URL("https://follower0.test/follows/c"),
      createdAt: PUBLISHED,
    });
    await followers.removeByActor(new URL(follower(1, "b")));
    await stack.publish([created(makeArticle({ id: "two", slug: "two" }), 2)]);
    await expect.poll(sent(2), { timeout: 10_000 }).toBe(true);
    await stack.stop();
    expect(zero?.syncs).toEqual([await syncHeader(0), await syncHeader(0, ["a", "b", "c"])]);
    expect(one?.syncs).toEqual([await syncHeader(1), await syncHeader(1, ["a"])]);
    db.close();
  });

  it("skips the inboxes a fan-out reached when it is handed out again", async () => {
    const inboxes = await Promise.all(Array.from({ length: 6 }, () => inboxServer(202)));
    const db = await followersOn(inboxes);
    const stack = await deliveryStack(db, { slice: 3, workers: 2 });
    await stack.publish([created(makeArticle(), 1)]);
    const reached = () => inboxes.filter((inbox) => inbox.got.length > 0).length;
    await expect.poll(reached, { timeout: 10_000 }).toBe(6);
    expect(stack.fanouts).toHaveLength(2);

    // As after a crash: the first slice again, straight into the queue (the ledger untouched),
    // with one of its inboxes never reached.
    const [slice] = stack.fanouts as { activityId: string; inboxes: Record<string, unknown> }[];
    if (slice === undefined) throw new Error("no slice");
    const [missed] = Object.keys(slice.inboxes);
    db.prepare("UPDATE federation_deliveries SET state = 'pending' WHERE inbox = ?").run(
      missed ?? "",
    );
    await stack.sqlite.enqueue(slice, {});
    const target = inboxes.find((inbox) => inbox.url === missed);
    await expect.poll(() => target?.got.length, { timeout: 10_000 }).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await stack.stop();
    for (const inbox of inboxes)
      expect(inbox.got).toEqual(inbox === target ? ["Create", "Create"] : ["Create"]);
    db.close();
  });

  it("delivers at most DELIVERY_WORKERS at once for all the fan-outs it expands", async () => {
    const inboxes = await Promise.all(Array.from({ length: 8 }, () => inboxServer(202, 50)));
    const db = await followersOn(inboxes);
    // Queue workers enough to expand the two stories' fan-outs at the same time.
    const stack = await deliveryStack(db, { slice: 8, workers: 3 });
    inFlight.most = 0;
    const one = makeArticle({ id: "one", slug: "one" });
    const two = makeArticle({ id: "two", slug: "two" });
    await stack.publish([created(one, 1), created(two, 2)]);
    await expect
      .poll(() => inboxes.every((inbox) => inbox.got.length === 2), { timeout: 10_000 })
      .toBe(true);
    await stack.stop();
    expect(inFlight.most).toBe(3);
    expect(stack.stored).toHaveLength(0);
    db.close();
  });

  it("stores what has not started when the queue stops, and the next start delivers it", async () => {
    const slow = await Promise.all(Array.from({ length: 6 }, () => inboxServer(202, 300)));
    const db = await followersOn(slow);
    const first = await deliveryStack(db, { slice: 6, workers: 1 });
    await first.publish([created(makeArticle(), 1)]);
    const reached = () => slow.filter((inbox) => inbox.got.length > 0).length;
    await expect.poll(reached, { timeout: 10_000 }).toBe(1);
    await first.stop();

    // The stop waited for the delivery under way, not for the others.
    expect(reached()).toBeLessThan(6);
    expect(first.stored).toHaveLength(6 - reached());
    expect(first.sqlite.depth().ready).toBe(6 - reached());

    const next = await deliveryStack(db, { slice: 6, workers: 1 });
    await expect.poll(reached, { timeout: 10_000 }).toBe(6);
    await next.stop();
    for (const inbox of slow) expect(inbox.got).toEqual(["Create"]);
    db.close();
  });
});
