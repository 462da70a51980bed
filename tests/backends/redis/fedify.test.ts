import { describe } from "vitest";
import { RedisKvStore } from "../../../src/backends/redis/kv.ts";
import { RedisMessageQueue } from "../../../src/backends/redis/queue.ts";
import { fedifyContract } from "../../contracts/fedify.ts";
import { freshRedisPrefix, redisAvailable } from "../../helpers/backends.ts";

describe.skipIf(!redisAvailable)("Redis", () => {
  fedifyContract("RedisKvStore and RedisMessageQueue", async () => {
    const space = freshRedisPrefix();
    return {
      connect: async () => {
        const redis = space.connect();
        return {
          kv: new RedisKvStore(redis, { keyPrefix: `${space.prefix}kv:` }),
          // A long poll: the worker hears of the retry through pub/sub or its own due time.
          queue: new RedisMessageQueue(redis, {
            keyPrefix: `${space.prefix}queue:`,
            pollInterval: { seconds: 30 },
          }),
        };
      },
      dispose: () => space.dispose(),
    };
  });
});
