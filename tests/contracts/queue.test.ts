import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { testMessageQueue } from "@fedify/testing";
import { describe, expect, it } from "vitest";
import { openPostgresMessageQueue } from "../../src/backends/postgres/queue.ts";
import { RedisMessageQueue } from "../../src/backends/redis/queue.ts";
import { SqliteMessageQueue } from "../../src/backends/sqlite/queue.ts";
import {
  freshPostgresSchema,
  freshRedisPrefix,
  postgresAvailable,
  redisAvailable,
  testDatabaseUrl,
  testRedisUrl,
} from "../helpers/backends.ts";
import { leasedQueueContract } from "./leased-queue.ts";
import { queueContract } from "./queue.ts";

/** A fresh folder for one store's database file. */
async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "herald-contract-"));
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

leasedQueueContract("SqliteMessageQueue", { wakesAcrossConnections: false }, async () => {
  const dir = await tempDir();
  const path = join(dir, "herald.sqlite");
  const handles: DatabaseSync[] = [];
  return {
    open: async (options) => {
      const db = new DatabaseSync(path);
      handles.push(db);
      return new SqliteMessageQueue(db, options);
    },
    workerArgs: (leaseMs, mode) => ["sqlite", path, String(leaseMs), mode],
    dispose: async () => {
      for (const db of handles) db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  queueContract("PostgresMessageQueue", async () => {
    const schema = await freshPostgresSchema();
    return {
      connect: async () => {
        const sql = schema.connect();
        const queue = await openPostgresMessageQueue(sql, { pollInterval: { milliseconds: 20 } });
        return { queue, close: () => sql.end({ timeout: 5 }) };
      },
      dispose: () => schema.dispose(),
    };
  });

  leasedQueueContract("PostgresMessageQueue", { wakesAcrossConnections: true }, async () => {
    const schema = await freshPostgresSchema();
    return {
      open: (options) => openPostgresMessageQueue(schema.connect(), options),
      workerArgs: (leaseMs, mode) => [
        "postgres",
        testDatabaseUrl.href,
        String(leaseMs),
        mode,
        schema.schema,
      ],
      dispose: () => schema.dispose(),
    };
  });
});

describe.skipIf(!redisAvailable)("Redis", () => {
  queueContract("RedisMessageQueue", async () => {
    const space = freshRedisPrefix();
    return {
      connect: async () => {
        const redis = space.connect();
        const queue = new RedisMessageQueue(redis, {
          keyPrefix: space.prefix,
          pollInterval: { milliseconds: 20 },
        });
        return { queue, close: () => void redis.disconnect() };
      },
      dispose: () => space.dispose(),
    };
  });

  leasedQueueContract("RedisMessageQueue", { wakesAcrossConnections: true }, async () => {
    const space = freshRedisPrefix();
    return {
      open: async (options) =>
        new RedisMessageQueue(space.connect(), { ...options, keyPrefix: space.prefix }),
      workerArgs: (leaseMs, mode) => [
        "redis",
        testRedisUrl.href,
        String(leaseMs),
        mode,
        space.prefix,
      ],
      dispose: () => space.dispose(),
    };
  });
});

// Fedify's own suite for message queues, over every engine.
describe("SqliteMessageQueue under Fedify's own testMessageQueue()", () => {
  it("passes, ordering keys included", { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const handles: DatabaseSync[] = [];
    try {
      // Fedify's suite asserts with its own library, which vitest does not count: it passes
      // when the suite settles.
      await expect(
        testMessageQueue(
          () => {
            const db = new DatabaseSync(join(dir, "herald.sqlite"));
            handles.push(db);
            return new SqliteMessageQueue(db, { pollInterval: { milliseconds: 50 } });
          },
          ({ controller }) => controller.abort(),
          { testOrderingKey: true },
        ),
      ).resolves.toBeUndefined();
    } finally {
      for (const db of handles) db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  describe("PostgresMessageQueue under Fedify's own testMessageQueue()", () => {
    it("passes, ordering keys included", { timeout: 60_000 }, async () => {
      const schema = await freshPostgresSchema();
      try {
        // Fedify's suite asserts with its own library, which vitest does not count: it passes
        // when the suite settles.
        await expect(
          testMessageQueue(
            () =>
              openPostgresMessageQueue(schema.connect(), { pollInterval: { milliseconds: 50 } }),
            ({ controller }) => controller.abort(),
            { testOrderingKey: true },
          ),
        ).resolves.toBeUndefined();
      } finally {
        await schema.dispose();
      }
    });
  });
});

describe.skipIf(!redisAvailable)("Redis", () => {
  describe("RedisMessageQueue under Fedify's own testMessageQueue()", () => {
    it("passes, ordering keys included", { timeout: 60_000 }, async () => {
      const space = freshRedisPrefix();
      try {
        // Fedify's suite asserts with its own library, which vitest does not count: it passes
        // when the suite settles.
        await expect(
          testMessageQueue(
            () =>
              new RedisMessageQueue(space.connect(), {
                keyPrefix: space.prefix,
                pollInterval: { milliseconds: 50 },
              }),
            ({ controller }) => controller.abort(),
            { testOrderingKey: true },
          ),
        ).resolves.toBeUndefined();
      } finally {
        await space.dispose();
      }
    });
  });
});
