import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, onTestFinished } from "vitest";
import { RedisMessageQueue } from "../../../src/backends/redis/queue.ts";
import { waitUntil } from "../../contracts/queue.ts";
import { freshRedisPrefix, redisAvailable } from "../../helpers/backends.ts";

describe.skipIf(!redisAvailable)("Redis", () => {
  describe("RedisMessageQueue", () => {
    function setup() {
      const space = freshRedisPrefix();
      const controllers: AbortController[] = [];
      const running: Promise<void>[] = [];
      onTestFinished(async () => {
        for (const controller of controllers) controller.abort();
        await Promise.all(running);
        await space.dispose();
      });
      const redis = space.connect();
      const open = (options = {}) =>
        new RedisMessageQueue(redis, {
          keyPrefix: space.prefix,
          pollInterval: { milliseconds: 20 },
          ...options,
        });
      const listen = (queue: RedisMessageQueue, handler: (message: unknown) => void) => {
        const controller = new AbortController();
        controllers.push(controller);
        running.push(queue.listen(handler, { signal: controller.signal }));
      };
      return { space, redis, open, listen };
    }

    it("keeps queues under different prefixes apart", async () => {
      const { space, redis, open, listen } = setup();
      const first = open();
      const second = new RedisMessageQueue(redis, {
        keyPrefix: `${space.prefix}other:`,
        pollInterval: { milliseconds: 20 },
      });
      const received: unknown[] = [];
      listen(second, (message) => {
        received.push(message);
      });
      await first.enqueue("first's");
      await second.enqueue("second's");
      await waitUntil(() => received.length === 1);
      await sleep(100);
      expect(received).toEqual(["second's"]);
      expect(await first.getDepth()).toMatchObject({ queued: 1 });
    });

    it("leaves no keys behind once every message is handled", async () => {
      const { space, redis, open, listen } = setup();
      const queue = open();
      const received: unknown[] = [];
      listen(queue, (message) => {
        received.push(message);
      });
      await queue.enqueueMany([1, 2, 3]);
      await queue.enqueueMany([4, 5], { orderingKey: "k" });
      await waitUntil(async () => received.length === 5 && (await queue.depth()).inFlight === 0);
      // Only the id counter stays.
      expect(await redis.keys(`${space.prefix}*`)).toEqual([`${space.prefix}seq`]);
    });

    it("drops a message that was handed out too often without an acknowledgement", async () => {
      const { space, redis, open, listen } = setup();
      const queue = open({ maxDeliveries: 3 });
      await queue.enqueue("poison");
      await queue.enqueue("fine");
      // As if three listeners in a row had died while handling it:
      const [id] = await redis.zrange(`${space.prefix}all`, "0", "0");
      await redis.hset(`${space.prefix}n`, id as string, "3");
      const handled: unknown[] = [];
      listen(queue, (message) => {
        handled.push(message);
      });
      await waitUntil(() => handled.includes("fine"));
      await sleep(100);
      expect(handled).toEqual(["fine"]);
      expect(await queue.depth()).toEqual({ queued: 0, ready: 0, delayed: 0, inFlight: 0 });
    });
  });
});
