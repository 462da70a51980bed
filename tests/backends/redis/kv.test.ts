import { describe, expect, it, onTestFinished } from "vitest";
import { RedisKvStore } from "../../../src/backends/redis/kv.ts";
import { milliseconds } from "../../federation/duration.ts";
import { freshRedisPrefix, redisAvailable } from "../../helpers/backends.ts";

describe.skipIf(!redisAvailable)("Redis", () => {
  describe("RedisKvStore", () => {
    function setup() {
      const space = freshRedisPrefix();
      onTestFinished(() => space.dispose());
      const redis = space.connect();
      return { space, redis, kv: new RedisKvStore(redis, { keyPrefix: space.prefix }) };
    }

    it("keeps one Redis key per entry under its prefix, with Redis's own TTL", async () => {
      const { space, redis, kv } = setup();
      await kv.set(["a", "b"], { x: 1 }, { ttl: milliseconds(10_000) });
      await kv.set(["c"], "forever");
      expect(await redis.get(`${space.prefix}["a","b"]`)).toBe('{"x":1}');
      const pttl = await redis.pttl(`${space.prefix}["a","b"]`);
      expect(pttl).toBeGreaterThan(9_000);
      expect(pttl).toBeLessThanOrEqual(10_000);
      expect(await redis.pttl(`${space.prefix}["c"]`)).toBe(-1);
    });

    it("lists only its own prefix, whatever glob characters the keys hold", async () => {
      const { space, redis, kv } = setup();
      const other = new RedisKvStore(redis, { keyPrefix: `${space.prefix}other:` });
      await other.set(["x"], "not mine");
      await kv.set(["*"], 1);
      await kv.set(["[a]", "?"], 2);
      await kv.set(["\\"], 3);
      const keys = [];
      for await (const { key } of kv.list(["[a]"])) keys.push(key);
      expect(keys).toEqual([["[a]", "?"]]);
      const theirs = [];
      for await (const { key } of other.list()) theirs.push(key);
      expect(theirs).toEqual([["x"]]);
      // Its keys lie under this store's prefix too, but are not this store's.
      const mine = [];
      for await (const { key } of kv.list()) mine.push(key);
      expect(mine).toEqual([["*"], ["[a]", "?"], ["\\"]]);
    });

    it("rejects a value that is not JSON", async () => {
      const { kv } = setup();
      await expect(kv.set(["f"], () => 1)).rejects.toThrow(TypeError);
    });
  });
});
