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
});
