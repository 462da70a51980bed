import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LeaseOptions, QueueDepth } from "../../src/backends/lease-listener.ts";
import { milliseconds } from "../federation/duration.ts";
import { type FullMessageQueue, waitUntil } from "./queue.ts";

const workerScript = fileURLToPath(new URL("../fixtures/queue-worker.ts", import.meta.url));

/** One of our queues: leases, workers, and a depth with the messages in flight. */
export interface LeasedQueue extends FullMessageQueue {
  depth(): QueueDepth | Promise<QueueDepth>;
}

/** A fresh, empty queue for one test. */
export interface LeasedQueueFixture {
  /** Opens another connection to the same queue, as another process would. */
  open(options: LeaseOptions): Promise<LeasedQueue>;
  /** Arguments of `tests/fixtures/queue-worker.ts` to listen to the same queue. */
  workerArgs(leaseMs: number, mode: "hang" | "drain"): string[];
  dispose(): Promise<void>;
}

interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  /** Lines the worker printed so far. */
  readonly lines: string[];
}

/**
 * What our own queues promise beyond Fedify's MessageQueue (see queue-contract.ts): prompt
 * wake-ups, workers, leases renewed while a handler runs, a message coming back after its
 * listener was killed, and listener processes sharing the work exactly once.
 */
export function leasedQueueContract(
  name: string,
  traits: {
    /** Whether an enqueue on one connection wakes an idle listener on another at once. */
    readonly wakesAcrossConnections: boolean;
  },
  createFixture: () => Promise<LeasedQueueFixture>,
): void {
  describe(`${name} (leases, wake-ups, processes)`, () => {
    let fixture: LeasedQueueFixture;
    let stops: AbortController[];
    let running: Promise<void>[];
    let children: ChildProcessWithoutNullStreams[];

    beforeEach(async () => {
      fixture = await createFixture();
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
      await fixture.dispose();
    });

    const fast = { pollInterval: { milliseconds: 20 } };

    function listen(queue: LeasedQueue, handler: (message: unknown) => Promise<void> | void) {
      const controller = new AbortController();
      stops.push(controller);
      running.push(queue.listen(handler, { signal: controller.signal }));
      return controller;
    }

    /** Starts `tests/fixtures/queue-worker.ts` in its own Node process; waits until it listens. */
    async function spawnWorker(leaseMs: number, mode: "hang" | "drain"): Promise<Worker> {
      const child = spawn(process.execPath, [workerScript, ...fixture.workerArgs(leaseMs, mode)]);
      children.push(child);
      const lines: string[] = [];
      let partial = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => {
        const parts = (partial + String(chunk)).split("\n");
        partial = parts.pop() ?? "";
        lines.push(...parts);
      });
      child.stderr.on("data", (chunk) => {
        stderr += String(chunk);
      });
      try {
        await waitUntil(() => lines.includes("listening"), 10_000);
      } catch (error) {
        throw new Error(`The worker did not start. stderr: ${stderr}`, { cause: error });
      }
      return { child, lines };
    }

    it("refuses a bad worker count or lease", async () => {
      await expect(fixture.open({ workers: 0 })).rejects.toThrow(RangeError);
      await expect(fixture.open({ lease: { seconds: 0 } })).rejects.toThrow(RangeError);
    });

    it("wakes its own idle listener at once on enqueue, without waiting for a poll", async () => {
      const queue = await fixture.open({ pollInterval: { seconds: 30 } });
      const received: number[] = [];
      listen(queue, () => {
        received.push(Date.now());
      });
      await sleep(100);
      const enqueuedAt = Date.now();
      await queue.enqueue("now");
      // "At once" against a 30 s poll: well under a second even on a loaded machine.
      await waitUntil(() => received.length === 1, 3_000);
      expect((received[0] ?? Infinity) - enqueuedAt).toBeLessThan(1_000);
    });

    it.runIf(traits.wakesAcrossConnections)(
      "wakes an idle listener on another connection at once",
      async () => {
        const listening = await fixture.open({ pollInterval: { seconds: 30 } });
        const other = await fixture.open({ pollInterval: { seconds: 30 } });
        const received: number[] = [];
        listen(listening, () => {
          received.push(Date.now());
        });
        await sleep(200); // let it subscribe
        const enqueuedAt = Date.now();
        await other.enqueue("from elsewhere");
        await waitUntil(() => received.length === 1, 2_000);
        expect((received[0] ?? Infinity) - enqueuedAt).toBeLessThan(500);
      },
    );

    it("wakes when a delayed message falls due, even between polls", async () => {
      const queue = await fixture.open({ pollInterval: { seconds: 30 } });
      const received: number[] = [];
      listen(queue, () => {
        received.push(Date.now());
      });
      await sleep(100);
      const enqueuedAt = Date.now();
      await queue.enqueue("soon", { delay: milliseconds(200) });
      await waitUntil(() => received.length === 1, 2_000);
      const waited = (received[0] ?? 0) - enqueuedAt;
      expect(waited).toBeGreaterThanOrEqual(200);
      expect(waited).toBeLessThan(1_000);
    });

    it("hands messages without a key to one listener in enqueue order", async () => {
      const queue = await fixture.open(fast);
      for (let n = 0; n < 20; n++) await queue.enqueue(n);
      const received: unknown[] = [];
      listen(queue, (message) => {
        received.push(message);
      });
      await waitUntil(() => received.length === 20);
      expect(received).toEqual(Array.from({ length: 20 }, (_, n) => n));
    });

    it("does not hold a key's due message back behind a delayed one of the same key", async () => {
      const queue = await fixture.open(fast);
      const received: unknown[] = [];
      await queue.enqueue("later", { orderingKey: "k", delay: milliseconds(300) });
      await queue.enqueue("now", { orderingKey: "k" });
      listen(queue, (message) => {
        received.push(message);
      });
      await waitUntil(() => received.length === 2, 3_000);
      expect(received).toEqual(["now", "later"]);
    });

    it("runs up to `workers` handlers at once, still one at a time per ordering key", async () => {
      const queue = await fixture.open({ ...fast, workers: 3 });
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
      const idle = { queued: 0, ready: 0, delayed: 0, inFlight: 0 };
      await waitUntil(
        async () => keyed.length === 6 && now === 0 && isDeepStrictEqual(await queue.depth(), idle),
      );
      expect(peak).toBe(3);
      expect(keyedOverlap).toBe(false);
      expect(keyed).toEqual([0, 1, 2, 3, 4, 5]);
    });

    it("keeps each ordering key one at a time and in order under many concurrent listeners", async () => {
      const queues = await Promise.all([1, 2, 3].map(() => fixture.open({ ...fast, workers: 4 })));
      const keys = ["a", "b", "c"];
      const order = new Map(keys.map((key) => [key, [] as number[]]));
      const running = new Set<string>();
      let overlaps = 0;
      for (const queue of queues) {
        listen(queue, async (message) => {
          const { key, n } = message as { key: string; n: number };
          if (running.has(key)) overlaps++;
          running.add(key);
          await sleep(Math.random() * 3);
          order.get(key)?.push(n);
          running.delete(key);
        });
      }
      const count = 30;
      for (let n = 0; n < count; n++) {
        for (const key of keys) await queues[n % 3]?.enqueue({ key, n }, { orderingKey: key });
      }
      await waitUntil(() => keys.every((key) => order.get(key)?.length === count), 15_000);
      const expected = Array.from({ length: count }, (_, n) => n);
      for (const key of keys) expect(order.get(key)).toEqual(expected);
      expect(overlaps).toBe(0);
    });

    it("renews the lease of a long handler, so no other listener takes its message", async () => {
      const options = { ...fast, lease: { milliseconds: 150 } };
      const a = await fixture.open(options);
      const b = await fixture.open(options);
      const runs: string[] = [];
      const slow = (who: string) => async () => {
        runs.push(who);
        await sleep(700);
      };
      await a.enqueue("long job");
      listen(a, slow("a"));
      await waitUntil(() => runs.length === 1);
      listen(b, slow("b"));
      await waitUntil(async () => (await a.depth()).inFlight === 0, 3_000);
      await sleep(300);
      expect(runs).toEqual(["a"]);
      expect(await a.depth()).toMatchObject({ queued: 0 });
    });

    it("hands a message out again after its listener was killed (kill -9) and the lease ran out", async () => {
      const leaseMs = 600;
      const options = { ...fast, lease: { milliseconds: leaseMs } };
      const queue = await fixture.open(options);
      await queue.enqueue({ job: "survives a crash" }, { orderingKey: "k" });
      await queue.enqueue({ job: "after it" }, { orderingKey: "k" });

      const { child, lines } = await spawnWorker(leaseMs, "hang");
      await waitUntil(() => lines.some((line) => line.startsWith("claimed")), 5_000);
      expect(lines.filter((line) => line.startsWith("claimed"))).toEqual([
        'claimed {"job":"survives a crash"}',
      ]);
      // Let the worker renew its lease at least once before it dies.
      await sleep(leaseMs / 2);
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      const [code, signal] = await exited;
      const killedAt = Date.now();
      expect({ code, signal }).toEqual({ code: null, signal: "SIGKILL" });
      expect(await queue.depth()).toEqual({ queued: 1, ready: 1, delayed: 0, inFlight: 1 });

      const handled: { message: unknown; at: number }[] = [];
      listen(queue, (message) => {
        handled.push({ message, at: Date.now() });
      });
      await waitUntil(() => handled.length === 2, 5_000);
      // The key's order holds across the crash: the dead worker's message comes first.
      expect(handled.map((h) => h.message)).toEqual([
        { job: "survives a crash" },
        { job: "after it" },
      ]);
      // Not before the dead worker's last renewed lease ran out (renewed every leaseMs / 3).
      expect((handled[0]?.at ?? 0) - killedAt).toBeGreaterThanOrEqual((leaseMs * 2) / 3 - 100);

      listen(await fixture.open(options), (message) => {
        handled.push({ message, at: Date.now() });
      });
      await sleep(leaseMs * 2);
      expect(handled).toHaveLength(2);
      expect(await queue.depth()).toEqual({ queued: 0, ready: 0, delayed: 0, inFlight: 0 });
    });

    it("hands each of 200 messages to exactly one of two listener processes", async () => {
      const queue = await fixture.open(fast);
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
      for (const w of workers) {
        expect(w.lines.filter((l) => l.startsWith("handled ")).length).toBeGreaterThan(0);
      }
      expect(await queue.depth()).toEqual({ queued: 0, ready: 0, delayed: 0, inFlight: 0 });

      // SIGTERM aborts the listener; the process then ends on its own.
      for (const w of workers) {
        const exited = once(w.child, "exit");
        w.child.kill("SIGTERM");
        expect(await exited).toEqual([0, null]);
      }
    });

    it("enqueues a batch whole or not at all", async () => {
      const queue = await fixture.open(fast);
      await expect(queue.enqueueMany(["ok", () => "not JSON"])).rejects.toThrow(TypeError);
      await expect(queue.enqueue(undefined)).rejects.toThrow(TypeError);
      expect(await queue.depth()).toEqual({ queued: 0, ready: 0, delayed: 0, inFlight: 0 });
    });
  });
}
