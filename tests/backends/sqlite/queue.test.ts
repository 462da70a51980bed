import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  SqliteMessageQueue,
  type SqliteMessageQueueOptions,
} from "../../../src/backends/sqlite/queue.ts";
import { waitUntil } from "../../contracts/queue.ts";

async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "herald-queue-"));
}

describe("SqliteMessageQueue", () => {
  let dir: string;
  let path: string;
  let handles: DatabaseSync[];
  let stops: AbortController[];
  let running: Promise<void>[];

  beforeEach(async () => {
    dir = await tempDir();
    path = join(dir, "herald.sqlite");
    handles = [];
    stops = [];
    running = [];
  });

  afterEach(async () => {
    for (const controller of stops) controller.abort();
    await Promise.all(running);
    for (const db of handles) db.close();
    await rm(dir, { recursive: true, force: true });
  });

  function open(options: SqliteMessageQueueOptions = {}) {
    const db = new DatabaseSync(path);
    handles.push(db);
    return { db, queue: new SqliteMessageQueue(db, options) };
  }

  function listen(queue: SqliteMessageQueue, handler: (message: unknown) => Promise<void> | void) {
    const controller = new AbortController();
    stops.push(controller);
    running.push(queue.listen(handler, { signal: controller.signal }));
    return controller;
  }

  function rows(db: DatabaseSync): number {
    return (db.prepare("SELECT COUNT(*) AS n FROM herald_queue").get() as { n: number }).n;
  }

  it("creates its table and puts the file in WAL mode", () => {
    const { db } = open();
    expect(rows(db)).toBe(0);
    expect(db.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
  });

  it("refuses a bad table name, worker count or interval", () => {
    const { db } = open();
    expect(() => new SqliteMessageQueue(db, { tableName: "a-b" })).toThrow(TypeError);
    expect(() => new SqliteMessageQueue(db, { workers: 0 })).toThrow(RangeError);
    expect(() => new SqliteMessageQueue(db, { lease: { seconds: 0 } })).toThrow(RangeError);
  });

  it("writes the enqueues of one tick in one transaction, refusing an unencodable message alone", async () => {
    const { db, queue } = open();
    const exec = db.exec.bind(db);
    let transactions = 0;
    db.exec = (sql: string) => {
      if (sql.startsWith("BEGIN")) transactions++;
      return exec(sql);
    };
    // As Fedify enqueues a fan-out with an ordering key: one enqueue() per inbox, all at once.
    const results = await Promise.allSettled([
      ...Array.from({ length: 100 }, (_, i) =>
        queue.enqueue(
          { type: "outbox", inbox: `https://s${i}.test/inbox` },
          {
            orderingKey: `story\nhttps://s${i}.test`,
          },
        ),
      ),
      queue.enqueue(undefined),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(100);
    expect(results.at(-1)).toMatchObject({ status: "rejected", reason: expect.any(TypeError) });
    expect(transactions).toBe(1);
    expect(rows(db)).toBe(100);
    const keys = db.prepare("SELECT COUNT(DISTINCT ordering_key) AS n FROM herald_queue").get();
    expect(keys).toEqual({ n: 100 });
    // Each is handed out once, with its own message.
    const seen = new Set<string>();
    listen(queue, (message) => {
      seen.add((message as { inbox: string }).inbox);
    });
    await waitUntil(() => seen.size === 100 && rows(db) === 0);
  });

  it("drops a message that was handed out too often without an acknowledgement", async () => {
    const { db, queue } = open({ pollInterval: { milliseconds: 20 }, maxDeliveries: 3 });
    await queue.enqueue("poison");
    await queue.enqueue("fine");
    // As if three listeners in a row had died while handling it:
    db.prepare(
      "UPDATE herald_queue SET deliveries = 3, lease_token = 'dead', lease_until = ? WHERE message = ?",
    ).run(Date.now() - 1, JSON.stringify("poison"));
    const handled: unknown[] = [];
    listen(queue, (message) => {
      handled.push(message);
    });
    await waitUntil(() => handled.includes("fine"));
    await sleep(100);
    expect(handled).toEqual(["fine"]);
    expect(rows(db)).toBe(0);
  });

  it("claims for all idle workers in one transaction, one message per ordering key, and acknowledges in batches", async () => {
    const { db, queue } = open({ workers: 8 });
    for (let i = 0; i < 40; i++) {
      // Keys a and b twice each in a row: their second message waits for the first.
      const orderingKey = i < 4 ? (i % 2 === 0 ? "a" : "b") : `k${i}`;
      await queue.enqueue({ i, key: orderingKey }, { orderingKey });
    }
    const exec = db.exec.bind(db);
    let transactions = 0;
    db.exec = (sql: string) => {
      if (sql.startsWith("BEGIN")) transactions++;
      return exec(sql);
    };
    const running = new Set<string>();
    const handled: number[] = [];
    let overlap = false;
    let peak = 0;
    const release: (() => void)[] = [];
    listen(queue, async (message) => {
      const { i, key } = message as { i: number; key: string };
      if (running.has(key)) overlap = true;
      running.add(key);
      peak = Math.max(peak, running.size);
      await new Promise<void>((resolve) => release.push(resolve));
      running.delete(key);
      handled.push(i);
    });
    // The first round claims 8 messages at once: a, b and 6 others (not a's and b's second).
    await waitUntil(() => running.size === 8);
    expect(transactions).toBe(1);
    expect([...running].sort()).toEqual(["a", "b", "k4", "k5", "k6", "k7", "k8", "k9"]);
    // Handlers finishing together are acknowledged (and replaced) in one round.
    for (const done of release.splice(0)) done();
    await waitUntil(() => running.size === 8 && handled.length === 8);
    expect(transactions).toBe(2);
    expect([...running].sort()).toContain("a");
    for (;;) {
      for (const done of release.splice(0)) done();
      if (handled.length === 40) break;
      await sleep(5);
    }
    await waitUntil(() => rows(db) === 0);
    expect(overlap).toBe(false);
    expect(peak).toBe(8);
    expect(handled.indexOf(0)).toBeLessThan(handled.indexOf(2));
    expect(handled.indexOf(1)).toBeLessThan(handled.indexOf(3));
    expect(transactions).toBeLessThan(40);
  });

  it("stores a value several messages of a batch share once, and forgets it with the last", async () => {
    const { db, queue } = open({ workers: 4 });
    // As Fedify's fan-out: the same activity and keys objects in every message.
    const activity = { type: "Create", content: "x".repeat(5_000) };
    const keys = [{ keyId: "https://news.test/#main-key", privateKey: { d: "secret" } }];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        queue.enqueue(
          { type: "outbox", inbox: `https://s${i}.test/inbox`, activity, keys, attempt: 0 },
          { orderingKey: `story\nhttps://s${i}.test` },
        ),
      ),
    );
    await queue.enqueueMany([
      { type: "outbox", inbox: "https://m1.test/inbox", activity, keys },
      { type: "outbox", inbox: "https://m2.test/inbox", activity, keys },
    ]);
    const shared = () =>
      db
        .prepare("SELECT COUNT(*) AS n, COALESCE(SUM(refs), 0) AS refs FROM herald_queue_shared")
        .get();
    expect(shared()).toEqual({ n: 4, refs: 104 });
    const longest = db.prepare("SELECT MAX(LENGTH(message)) AS n FROM herald_queue").get() as {
      n: number;
    };
    expect(longest.n).toBeLessThan(200);
    const received: unknown[] = [];
    listen(queue, (message) => {
      received.push(message);
    });
    await waitUntil(() => received.length === 52 && rows(db) === 0);
    for (const message of received) {
      expect(message).toEqual({
        type: "outbox",
        inbox: expect.stringMatching(/^https:\/\/(s\d+|m\d)\.test\/inbox$/),
        activity,
        keys,
        ...((message as { attempt?: number }).attempt === undefined ? {} : { attempt: 0 }),
      });
    }
    expect(shared()).toEqual({ n: 0, refs: 0 });
  });
});
