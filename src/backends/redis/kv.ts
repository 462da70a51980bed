import { isDeepStrictEqual } from "node:util";
import type { KvKey, KvStore, KvStoreListEntry, KvStoreSetOptions } from "@fedify/fedify";
import type { Redis } from "ioredis";
import { toMilliseconds } from "../duration.ts";
import {
  compareKeys,
  decodeKey,
  encodeKey,
  encodeValue,
  normalizeValue,
  prefixRange,
} from "../kv-codec.ts";
import { prefixPattern, redisScript } from "./script.ts";

export interface RedisKvStoreOptions {
  /** Put before every key, to share a Redis database. `"herald:kv:"` by default. */
  readonly keyPrefix?: string;
}

// Swaps only if the key still holds exactly the text the caller read (or is still absent).
// ARGV: seen? ('1'/'0'), seen text, write? ('1' = set, '0' = delete), new text, PX or ''.
const casScript = redisScript(`
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[3] ~= '1' then
  redis.call('DEL', KEYS[1])
elseif ARGV[5] == '' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
return 1
`);

/** MGET this many keys at a time while listing. */
const BATCH = 500;

/**
 * Fedify's key–value store on Redis (ioredis), shared by every process given the same
 * server and prefix. One Redis key per entry: the prefix, then the key's JSON text; the
 * value as JSON text (see `backends/kv-codec.ts`). A TTL is Redis's own (`PX`), so expiry needs no
 * sweeping and follows the server's clock.
 *
 * `cas()` reads the value, compares it in code, then swaps in a Lua script only if the key
 * still holds exactly the text it read: atomic on the server, and safe on a connection
 * shared by concurrent callers (unlike WATCH). `list()` walks the keyspace with SCAN, so
 * its cost grows with the whole database; Fedify lists rarely (a circuit-breaker sweep).
 *
 * The client is the caller's: it is not closed here.
 */
export class RedisKvStore implements KvStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, options: RedisKvStoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.keyPrefix ?? "herald:kv:";
  }

  async get<T = unknown>(key: KvKey): Promise<T | undefined> {
    const value = await this.#redis.get(this.#key(key));
    return value == null ? undefined : (JSON.parse(value) as T);
  }

  async set(key: KvKey, value: unknown, options?: KvStoreSetOptions): Promise<void> {
    const px = ttlMs(options);
    if (value === undefined || px === 0) return await this.delete(key);
    const text = encodeValue(value);
    if (px === undefined) await this.#redis.set(this.#key(key), text);
    else await this.#redis.set(this.#key(key), text, "PX", px);
  }

  async delete(key: KvKey): Promise<void> {
    await this.#redis.del(this.#key(key));
  }

  /**
   * Replaces the value only if the live value deep-equals `expectedValue` (`undefined`
   * meaning "absent"). `newValue` `undefined` deletes the entry: Fedify consumes
   * one-time nonces with `cas(key, true, undefined)`.
   */
  async cas(
    key: KvKey,
    expectedValue: unknown,
    newValue: unknown,
    options?: KvStoreSetOptions,
  ): Promise<boolean> {
    const redisKey = this.#key(key);
    const seen = await this.#redis.get(redisKey);
    const current = seen == null ? undefined : JSON.parse(seen);
    if (!isDeepStrictEqual(current, normalizeValue(expectedValue))) return false;
    const px = ttlMs(options);
    const write = newValue !== undefined && px !== 0;
    const swapped = await casScript.run(
      this.#redis,
      [redisKey],
      [
        seen == null ? "0" : "1",
        seen ?? "",
        write ? "1" : "0",
        write ? encodeValue(newValue) : "",
        px ?? "",
      ],
    );
    return swapped === 1;
  }

  /**
   * Live entries whose key starts with `prefix` (the prefix itself included), ordered by
   * key element by element. Read whole before the first entry is yielded, so the caller
   * may write to the store while iterating.
   */
  async *list(prefix?: KvKey): AsyncIterable<KvStoreListEntry> {
    const keys = new Set<string>();
    if (prefix == null || prefix.length === 0) {
      await this.#scan(this.#prefix, keys);
    } else {
      const { exact, lo } = prefixRange(prefix);
      keys.add(this.#prefix + exact);
      await this.#scan(this.#prefix + lo, keys);
    }
    const entries: KvStoreListEntry[] = [];
    const all = [...keys];
    for (let i = 0; i < all.length; i += BATCH) {
      const batch = all.slice(i, i + BATCH);
      const values = await this.#redis.mget(...batch);
      for (const [j, value] of values.entries()) {
        // A key that expired or went since the scan is simply not listed, nor one under a
        // longer prefix of another store (it is not a JSON key).
        const key =
          value == null ? undefined : tryDecodeKey((batch[j] as string).slice(this.#prefix.length));
        if (key !== undefined) entries.push({ key, value: JSON.parse(value as string) });
      }
    }
    entries.sort((a, b) => compareKeys(a.key, b.key));
    yield* entries;
  }

  async #scan(start: string, into: Set<string>): Promise<void> {
    // SCAN may return a key twice; the set drops repeats.
    let cursor = "0";
    do {
      const [next, found] = await this.#redis.scan(
        cursor,
        "MATCH",
        prefixPattern(start),
        "COUNT",
        1000,
      );
      for (const key of found) into.add(key);
      cursor = next;
    } while (cursor !== "0");
  }

  #key(key: KvKey): string {
    return this.#prefix + encodeKey(key);
  }
}

/** Milliseconds for `PX` (0: already expired), or undefined without a TTL. */
function ttlMs(options: KvStoreSetOptions | undefined): number | undefined {
  if (options?.ttl == null) return undefined;
  return Math.max(0, Math.ceil(toMilliseconds(options.ttl)));
}

function tryDecodeKey(text: string): KvKey | undefined {
  if (!text.startsWith("[")) return undefined;
  try {
    return decodeKey(text);
  } catch {
    return undefined;
  }
}

/** Fedify's KV store under `options.keyPrefix` in Redis. */
export function openRedisKvStore(redis: Redis, options: RedisKvStoreOptions = {}): RedisKvStore {
  return new RedisKvStore(redis, options);
}
