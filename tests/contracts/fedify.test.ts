import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe } from "vitest";
import { openPostgresKvStore } from "../../src/backends/postgres/kv.ts";
import { openPostgresMessageQueue } from "../../src/backends/postgres/queue.ts";
import { RedisKvStore } from "../../src/backends/redis/kv.ts";
import { RedisMessageQueue } from "../../src/backends/redis/queue.ts";
import { SqliteKvStore } from "../../src/backends/sqlite/kv.ts";
import { SqliteMessageQueue } from "../../src/backends/sqlite/queue.ts";
import {
  freshPostgresSchema,
  freshRedisPrefix,
  postgresAvailable,
  redisAvailable,
} from "../helpers/backends.ts";
import { fedifyContract } from "./fedify.ts";

/** A fresh folder for one store's database file. */
async function _tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "herald-contract-"));
}

fedifyContract("SqliteKvStore and SqliteMessageQueue", async () => {
  const dir = await mkdtemp(join(tmpdir(), "herald-fedify-"));
  const handles: DatabaseSync[] = [];
  return {
    connect: async () => {
      const db = new DatabaseSync(join(dir, "herald.sqlite"));
      handles.push(db);
      return {
        kv: new SqliteKvStore(db),
        queue: new SqliteMessageQueue(db, { pollInterval: { milliseconds: 50 } }),
      };
    },
    dispose: async () => {
      for (const db of handles) db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  fedifyContract("PostgresKvStore and PostgresMessageQueue", async () => {
    const schema = await freshPostgresSchema();
    return {
      connect: async () => {
        const sql = schema.connect();
        return {
          kv: await openPostgresKvStore(sql),
          // A long poll: the worker hears of the retry through NOTIFY or its own due time.
          queue: await openPostgresMessageQueue(sql, { pollInterval: { seconds: 30 } }),
        };
      },
      dispose: () => schema.dispose(),
    };
  });
});

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
