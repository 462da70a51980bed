import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { testMessageQueue } from "@fedify/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  SqliteMessageQueue,
  type SqliteMessageQueueOptions,
} from "../../src/federation/sqlite-queue.ts";
import { milliseconds } from "./duration.ts";
import { queueContract, waitUntil } from "./queue-contract.ts";

const worker = fileURLToPath(new URL("../fixtures/queue-worker.ts", import.meta.url));

interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  /** Lines the worker printed so far. */
  readonly lines: string[];
  stderr(): string;
}

/** Starts `tests/fixtures/queue-worker.ts` in its own Node process and waits until it listens. */
async function startWorker(path: string, leaseMs: number, mode: "hang" | "drain") {
  const child = spawn(process.execPath, [worker, path, String(leaseMs), mode]);
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    const text = partial + String(chunk);
    const parts = text.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  child.stderr.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const started: Worker = { child, lines, stderr: () => stderr };
  try {
    await waitUntil(() => lines.includes("listening"), 10_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`The worker did not start. stderr: ${stderr}`, { cause: error });
  }
  return started;
}

async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "herald-queue-"));
}

queueContract("SqliteMessageQueue", async () => {
  const dir = await tempDir();
  const path = join(dir, "herald.sqlite");
  return {
    connect: () => {
      const db = new DatabaseSync(path);
      const queue = new SqliteMessageQueue(db, { pollInterval: { milliseconds: 20 } });
      return Promise.resolve({ queue, close: () => db.close() });
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("SqliteMessageQueue under Fedify's own testMessageQueue()", () => {
  it("passes, ordering keys included", { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const handles: DatabaseSync[] = [];
    try {
      await testMessageQueue(
        () => {
          const db = new DatabaseSync(join(dir, "herald.sqlite"));
          handles.push(db);
          return new SqliteMessageQueue(db, { pollInterval: { milliseconds: 50 } });
        },
        ({ controller }) => controller.abort(),
        { testOrderingKey: true },
      );
    } finally {
      for (const db of handles) db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("SqliteMessageQueue", () => {
  let dir: string;
  let path: string;
  let handles: DatabaseSync[];
  let stops: AbortController[];
  let running: Promise<void>[];
  let children: ChildProcessWithoutNullStreams[];

  beforeEach(async () => {
    dir = await tempDir();
    path = join(dir, "herald.sqlite");
    handles = [];
    stops = [];
    running = [];
    children = [];
  });

  afterEach(async () => {
    for (const child of children) {
      if (child.exitCode == null && child.signalCode == null) child.kill("SIGKILL");
    }
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

  async function spawnWorker(leaseMs: number, mode: "hang" | "drain"): Promise<Worker> {
    const started = await startWorker(path, leaseMs, mode);
    children.push(started.child);
    return started;
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

  it("wakes its own idle listener at once on enqueue, without waiting for a poll", async () => {
    const { queue } = open({ pollInterval: { seconds: 30 } });
    const received: number[] = [];
    listen(queue, () => {
      received.push(Date.now());
    });
    await sleep(50);
    const enqueuedAt = Date.now();
    await queue.enqueue("now");
    await waitUntil(() => received.length === 1, 1_000);
    expect((received[0] ?? Infinity) - enqueuedAt).toBeLessThan(200);
  });

  it("wakes when a delayed message falls due, even between polls", async () => {
    const { queue } = open({ pollInterval: { seconds: 30 } });
    const received: number[] = [];
    listen(queue, () => {
      received.push(Date.now());
    });
    const enqueuedAt = Date.now();
    await queue.enqueue("soon", { delay: milliseconds(200) });
    await waitUntil(() => received.length === 1, 2_000);
    const waited = (received[0] ?? 0) - enqueuedAt;
    expect(waited).toBeGreaterThanOrEqual(200);
    expect(waited).toBeLessThan(1_000);
  });

  it("hands messages without a key to one listener in enqueue order", async () => {
    const { queue } = open({ pollInterval: { milliseconds: 20 } });
    for (let n = 0; n < 20; n++) await queue.enqueue(n);
    const received: unknown[] = [];
    listen(queue, (message) => {
      received.push(message);
    });
    await waitUntil(() => received.length === 20);
    expect(received).toEqual(Array.from({ length: 20 }, (_, n) => n));
  });

  it("runs up to `workers` handlers at once, still one at a time per ordering key", async () => {
    const { queue } = open({ pollInterval: { milliseconds: 20 }, workers: 3 });
    let now = 0;
    let peak = 0;
    const keyed: number[] = [];
    let keyedRunning = 0;
    let keyedOverlap = false;
    listen(queue, async (message) => {
      const { n, keyed: isKeyed } = message as { n: number; keyed: boolean };
      now++;
      peak = Math.max(peak, now);
      if (isKeyed) {
        keyedRunning++;
        if (keyedRunning > 1) keyedOverlap = true;
      }
      await sleep(30);
      if (isKeyed) {
        keyed.push(n);
        keyedRunning--;
      }
      now--;
    });
    for (let n = 0; n < 6; n++) {
      await queue.enqueue({ n, keyed: true }, { orderingKey: "k" });
      await queue.enqueue({ n, keyed: false });
    }
    await waitUntil(() => keyed.length === 6 && now === 0 && queue.depth().queued === 0);
    expect(peak).toBe(3);
    expect(keyedOverlap).toBe(false);
    expect(keyed).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("renews the lease of a long handler, so no other listener takes its message", async () => {
    const a = open({ pollInterval: { milliseconds: 20 }, lease: { milliseconds: 150 } });
    const b = open({ pollInterval: { milliseconds: 20 }, lease: { milliseconds: 150 } });
    const runs: string[] = [];
    const slow = (who: string) => async () => {
      runs.push(who);
      await sleep(700);
    };
    await a.queue.enqueue("long job");
    listen(a.queue, slow("a"));
    await waitUntil(() => runs.length === 1);
    listen(b.queue, slow("b"));
    await waitUntil(() => rows(a.db) === 0, 3_000);
    await sleep(300);
    expect(runs).toEqual(["a"]);
  });

  it("hands a message out again after its listener was killed (kill -9) and the lease ran out", async () => {
    const leaseMs = 600;
    const { db, queue } = open({
      pollInterval: { milliseconds: 20 },
      lease: { milliseconds: leaseMs },
    });
    await queue.enqueue({ job: "survives a crash" });

    const { child, lines } = await spawnWorker(leaseMs, "hang");
    await waitUntil(() => lines.some((line) => line.startsWith("claimed")), 5_000);
    expect(lines).toContain('claimed {"job":"survives a crash"}');
    // Let the worker renew its lease at least once before it dies.
    await sleep(leaseMs / 2);
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    const [code, signal] = await exited;
    const killedAt = Date.now();
    expect({ code, signal }).toEqual({ code: null, signal: "SIGKILL" });
    expect(queue.depth()).toEqual({ queued: 0, ready: 0, delayed: 0, inFlight: 1 });

    const handled: { message: unknown; at: number }[] = [];
    listen(queue, (message) => {
      handled.push({ message, at: Date.now() });
    });
    await waitUntil(() => handled.length === 1, 5_000);
    expect(handled[0]?.message).toEqual({ job: "survives a crash" });
    // Not before the dead worker's last renewed lease ran out (renewed every leaseMs / 3).
    expect((handled[0]?.at ?? 0) - killedAt).toBeGreaterThanOrEqual((leaseMs * 2) / 3 - 100);

    const second = open({ pollInterval: { milliseconds: 20 }, lease: { milliseconds: leaseMs } });
    listen(second.queue, (message) => {
      handled.push({ message, at: Date.now() });
    });
    await sleep(leaseMs * 2);
    expect(handled).toHaveLength(1);
    expect(rows(db)).toBe(0);
  });

  it("hands each of 200 messages to exactly one of two listener processes", async () => {
    const { queue } = open();
    const workers = [await spawnWorker(5_000, "drain"), await spawnWorker(5_000, "drain")];
    const count = 200;
    for (let n = 0; n < count; n += 10) {
      await queue.enqueueMany(Array.from({ length: 10 }, (_, i) => n + i));
    }
    const handled = () => workers.flatMap((w) => w.lines.filter((l) => l.startsWith("handled ")));
    await waitUntil(() => handled().length >= count, 20_000);
    await sleep(300);
    const times = new Map<string, number>();
    for (const line of handled()) times.set(line, (times.get(line) ?? 0) + 1);
    expect(times.size).toBe(count);
    expect([...times.values()].every((n) => n === 1)).toBe(true);
    for (const w of workers)
      expect(w.lines.filter((l) => l.startsWith("handled ")).length).toBeGreaterThan(0);
    expect(queue.depth()).toEqual({ queued: 0, ready: 0, delayed: 0, inFlight: 0 });

    // SIGTERM aborts the listener; the process then ends on its own.
    for (const w of workers) {
      const exited = once(w.child, "exit");
      w.child.kill("SIGTERM");
      expect(await exited).toEqual([0, null]);
    }
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

  it("enqueues a batch whole or not at all", async () => {
    const { db, queue } = open();
    await expect(queue.enqueueMany(["ok", () => "not JSON"])).rejects.toThrow(TypeError);
    await expect(queue.enqueue(undefined)).rejects.toThrow(TypeError);
    expect(rows(db)).toBe(0);
  });
});
