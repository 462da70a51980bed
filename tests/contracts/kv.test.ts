import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { KvStore } from "@fedify/fedify";
import { describe } from "vitest";
import { openPostgresKvStore } from "../../src/backends/postgres/kv.ts";
import { RedisKvStore } from "../../src/backends/redis/kv.ts";
import { SqliteKvStore } from "../../src/backends/sqlite/kv.ts";
import { cacheDeliveryState } from "../../src/federation/delivery/kv-cache.ts";
import {
  freshPostgresSchema,
  freshRedisPrefix,
  postgresAvailable,
  redisAvailable,
} from "../helpers/backends.ts";
import { kvContract } from "./kv.ts";

/** A fresh folder for one store's database file. */
async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "herald-contract-"));
}

/** The SQLite KV store in a fresh file, as `wrap` hands it to its users. */
function sqliteKv(wrap: (kv: KvStore) => KvStore = (kv) => kv) {
  return async () => {
    const dir = await tempDir();
    const path = join(dir, "herald.sqlite");
    return {
      connect: () => {
        const db = new DatabaseSync(path);
        return Promise.resolve({ kv: wrap(new SqliteKvStore(db)), close: () => db.close() });
      },
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  };
}

kvContract("SqliteKvStore", sqliteKv());
// The cache Fedify's KV store goes through (federation.ts): a KV store like any other.
kvContract("SqliteKvStore behind cacheDeliveryState()", sqliteKv(cacheDeliveryState));

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  kvContract("PostgresKvStore", async () => {
    const schema = await freshPostgresSchema();
    return {
      connect: async () => {
        const sql = schema.connect();
        return { kv: await openPostgresKvStore(sql), close: () => sql.end({ timeout: 5 }) };
      },
      dispose: () => schema.dispose(),
    };
  });
});

describe.skipIf(!redisAvailable)("Redis", () => {
  kvContract("RedisKvStore", async () => {
    const space = freshRedisPrefix();
    return {
      connect: async () => {
        const redis = space.connect();
        return {
          kv: new RedisKvStore(redis, { keyPrefix: space.prefix }),
          close: async () => {
            await redis.quit();
          },
        };
      },
      dispose: () => space.dispose(),
    };
  });
});
