import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A Lua script run atomically on the Redis server. */
export interface RedisScript {
  run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

/** Runs by its SHA-1 (`EVALSHA`), sending the source only when the server lacks it. */
export function redisScript(lua: string): RedisScript {
  const sha = createHash("sha1").update(lua).digest("hex");
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
        return await redis.eval(lua, keys.length, ...keys, ...args);
      }
    },
  };
}

/** A Redis `SCAN` pattern matching exactly the keys that start with `prefix`. */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[\\*?[\]]/g, "\\$&")}*`;
}
