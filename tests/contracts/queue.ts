import { setTimeout as sleep } from "node:timers/promises";
import type { MessageQueue, MessageQueueDepth } from "@fedify/fedify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { milliseconds } from "../federation/duration.ts";

/** A queue with the optional parts Herald relies on. */
export type FullMessageQueue = MessageQueue &
  Required<Pick<MessageQueue, "enqueueMany">> & {
    getDepth(): Promise<MessageQueueDepth>;
  };

/** One connection to the queue under test. */
export interface QueueConnection {
  readonly queue: FullMessageQueue;
  close(): void | Promise<void>;
}

/**
 * A fresh, empty queue; every `connect()` opens another connection to the same queue, with
 * a poll interval short enough (tens of milliseconds) for listeners on other connections.
 */
export interface QueueFixture {
  connect(): Promise<QueueConnection>;
  dispose(): Promise<void>;
}

/** Polls until `predicate` holds; fails the test after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > timeoutMs) throw new Error(`Condition not met in ${timeoutMs} ms.`);
    await sleep(10);
  }
}

interface Listening {
  readonly controller: AbortController;
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

function listen(queue: MessageQueue, handler: (message: unknown) => Promise<void> | void) {
  const controller = new AbortController();
  const done = queue.listen(handler, { signal: controller.signal });
  const listening: Listening = {
    controller,
    done,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
  return listening;
}

/**
 * The behaviour Herald (and Fedify) rely on from a MessageQueue, run over every
 * implementation. `createFixture` is called once per test.
 */
export function queueContract(name: string, createFixture: () => Promise<QueueFixture>): void {
  describe(`${name} (MessageQueue contract)`, () => {
    let fixture: QueueFixture;
    let open: QueueConnection[];
    let listeners: Listening[];
    let queue: FullMessageQueue;

    async function connect(): Promise<QueueConnection> {
      const connection = await fixture.connect();
      open.push(connection);
      return connection;
    }

    function start(q: MessageQueue, handler: (message: unknown) => Promise<void> | void) {
      const listening = listen(q, handler);
      listeners.push(listening);
      return listening;
    }

    beforeEach(async () => {
      fixture = await createFixture();
      open = [];
      listeners = [];
      queue = (await connect()).queue;
    });

    afterEach(async () => {
      for (const listening of listeners) await listening.stop();
      for (const connection of open) await connection.close();
      await fixture.dispose();
    });

    it("declares that Fedify handles retries (nativeRetrial is not true)", () => {
      expect(queue.nativeRetrial ?? false).toBe(false);
    });

    it("hands an enqueued JSON message to a listener once", async () => {
      const received: unknown[] = [];
      start(queue, (message) => {
        received.push(message);
      });
      const message = { type: "outbox", id: "1", nested: { list: [1, "two", null] } };
      await queue.enqueue(message);
      await waitUntil(() => received.length === 1);
      await sleep(100);
      expect(received).toEqual([message]);
      expect(await queue.getDepth()).toMatchObject({ queued: 0 });
    });

    it("holds a delayed message back until its delay has passed", async () => {
      const received: { message: unknown; at: number }[] = [];
      start(queue, (message) => {
        received.push({ message, at: Date.now() });
      });
      const enqueuedAt = Date.now();
      await queue.enqueue("later", { delay: milliseconds(400) });
      await queue.enqueue("now");
      await waitUntil(() => received.length === 1);
      expect(received[0]?.message).toBe("now");
      expect(await queue.getDepth()).toEqual({ queued: 1, ready: 0, delayed: 1 });
      await waitUntil(() => received.length === 2);
      expect(received[1]?.message).toBe("later");
      expect((received[1]?.at ?? 0) - enqueuedAt).toBeGreaterThanOrEqual(400);
    });

    it("enqueues many messages at once, with or without a delay", async () => {
      const received: unknown[] = [];
      start(queue, (message) => {
        received.push(message);
      });
      await queue.enqueueMany(["a", "b", "c"]);
      await queue.enqueueMany([]);
      await waitUntil(() => received.length === 3);
      expect(new Set(received)).toEqual(new Set(["a", "b", "c"]));

      const enqueuedAt = Date.now();
      await queue.enqueueMany(["d", "e"], { delay: milliseconds(300) });
      expect(await queue.getDepth()).toMatchObject({ queued: 2, delayed: 2 });
      await waitUntil(() => received.length === 5);
      expect(Date.now() - enqueuedAt).toBeGreaterThanOrEqual(300);
      expect(new Set(received.slice(3))).toEqual(new Set(["d", "e"]));
    });

    it("counts waiting messages: ready, delayed, not the one being handled", async () => {
      let release = () => {};
      const blocked = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started = 0;
      await queue.enqueue("busy");
      start(queue, async () => {
        started++;
        await blocked;
      });
      try {
        await waitUntil(() => started === 1);
        await queue.enqueue("ready");
        await queue.enqueue("delayed", { delay: milliseconds(60_000) });
        // The only listener is busy, so "ready" stays waiting.
        expect(await queue.getDepth()).toEqual({ queued: 2, ready: 1, delayed: 1 });
      } finally {
        release();
      }
    });

    it("runs messages sharing an ordering key one at a time, in order", async () => {
      const other = (await connect()).queue;
      const order: Record<string, number[]> = { a: [], b: [] };
      const running = new Set<string>();
      let overlaps = 0;
      const handler = async (message: unknown) => {
        const { key, n } = message as { key: "a" | "b"; n: number };
        if (running.has(key)) overlaps++;
        running.add(key);
        await sleep(Math.random() * 15);
        order[key]?.push(n);
        running.delete(key);
      };
      start(queue, handler);
      start(queue, handler);
      start(other, handler);
      start(other, handler);
      for (let n = 1; n <= 8; n++) {
        await queue.enqueue({ key: "a", n }, { orderingKey: "a" });
        await queue.enqueue({ key: "b", n }, { orderingKey: "b" });
      }
      await queue.enqueueMany(
        [9, 10, 11].map((n) => ({ key: "a", n })),
        { orderingKey: "a" },
      );
      await waitUntil(() => (order.a?.length ?? 0) === 11 && (order.b?.length ?? 0) === 8);
      expect(order.a).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(order.b).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(overlaps).toBe(0);
    });

    it("hands each message to exactly one of two listeners on separate connections", async () => {
      const other = (await connect()).queue;
      const seen = new Map<number, number>();
      const running = new Set<number>();
      const by = { first: 0, second: 0 };
      let overlaps = 0;
      const handler = (who: keyof typeof by) => async (message: unknown) => {
        const n = message as number;
        if (running.has(n)) overlaps++;
        running.add(n);
        by[who]++;
        await sleep(1);
        seen.set(n, (seen.get(n) ?? 0) + 1);
        running.delete(n);
      };
      start(queue, handler("first"));
      start(other, handler("second"));
      const count = 200;
      for (let n = 0; n < count; n += 20) {
        await queue.enqueueMany(Array.from({ length: 20 }, (_, i) => n + i));
      }
      await waitUntil(() => seen.size === count, 15_000);
      await sleep(200);
      expect([...seen.values()].every((times) => times === 1)).toBe(true);
      expect(seen.size).toBe(count);
      expect(overlaps).toBe(0);
      expect(by.first).toBeGreaterThan(0);
      expect(by.second).toBeGreaterThan(0);
      expect(await queue.getDepth()).toMatchObject({ queued: 0 });
    });

    it("drops a message whose handler fails, keeps listening, and never rejects", async () => {
      const attempts: unknown[] = [];
      const listening = start(queue, async (message) => {
        attempts.push(message);
        if (message === "throws") throw new Error("handler failed at once");
        await sleep(1);
        if (message === "rejects") throw new Error("handler failed later");
      });
      await queue.enqueue("throws");
      await queue.enqueue("rejects");
      await queue.enqueue("good");
      await waitUntil(() => attempts.includes("good"));
      await sleep(200);
      expect(attempts).toEqual(["throws", "rejects", "good"]);
      expect(await queue.getDepth()).toMatchObject({ queued: 0 });
      await expect(listening.stop()).resolves.toBeUndefined();
    });

    it("resolves listen() on abort and claims nothing afterwards", async () => {
      const received: unknown[] = [];
      const listening = start(queue, (message) => {
        received.push(message);
      });
      await sleep(50);
      await listening.stop();
      await queue.enqueue("after stop");
      await sleep(200);
      expect(received).toEqual([]);
      expect(await queue.getDepth()).toMatchObject({ queued: 1 });
    });

    it("resolves at once when the signal is already aborted", async () => {
      const controller = new AbortController();
      controller.abort();
      await queue.enqueue("never");
      await queue.listen(
        () => {
          throw new Error("must not run");
        },
        { signal: controller.signal },
      );
      expect(await queue.getDepth()).toMatchObject({ queued: 1 });
    });

    it("on abort lets the running handler finish, then resolves; the message is done", async () => {
      let release = () => {};
      const blocked = new Promise<void>((resolve) => {
        release = resolve;
      });
      let finished = false;
      await queue.enqueue("slow");
      const listening = start(queue, async () => {
        await blocked;
        finished = true;
      });
      await waitUntil(async () => (await queue.getDepth()).queued === 0);
      listening.controller.abort();
      let resolved = false;
      const done = listening.done.then(() => {
        resolved = true;
      });
      try {
        await sleep(100);
        expect(resolved).toBe(false);
      } finally {
        release();
      }
      await done;
      expect(finished).toBe(true);

      const again: unknown[] = [];
      start((await connect()).queue, (message) => {
        again.push(message);
      });
      await sleep(200);
      expect(again).toEqual([]);
    });

    it("keeps messages across a reconnect", async () => {
      const first = await connect();
      await first.queue.enqueue({ durable: 1 });
      await first.queue.enqueue({ durable: 2 }, { delay: milliseconds(100) });
      await first.close();
      open.splice(open.indexOf(first), 1);
      const received: unknown[] = [];
      start((await connect()).queue, (message) => {
        received.push(message);
      });
      await waitUntil(() => received.length === 2);
      expect(received).toEqual([{ durable: 1 }, { durable: 2 }]);
    });
  });
}
