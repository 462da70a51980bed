import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import postgres from "postgres";
import { dropSchema, testDatabaseUrl } from "./postgres.ts";

export { postgresAvailable, testDatabaseUrl } from "./postgres.ts";

/** Redis for tests: `REDIS_URL`, or the local server. */
export const testRedisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");

/**
 * Whether to run the Redis tests. An explicit `REDIS_URL` must answer (its tests fail
 * otherwise); without one, a machine with no Redis at the default address skips them.
 */
export const redisAvailable: boolean =
  process.env.REDIS_URL !== undefined || (await redisAnswers(testRedisUrl));

async function redisAnswers(url: URL): Promise<boolean> {
  const redis = new Redis(url.href, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    console.warn(`Redis tests skipped: nothing answers at ${url.href}.`);
    return false;
  } finally {
    redis.disconnect();
  }
}

/** A PostgreSQL client whose tables land in `schema`. */
export function postgresClient(schema: string, max = 4): postgres.Sql {
  return postgres(testDatabaseUrl.href, {
    max,
    onnotice: () => {},
    connection: { search_path: `"${schema}"` },
  });
}

/**
 * A fresh, empty schema for one test; `connect()` opens a client on it, as another process
 * would. `dispose()` ends the clients and drops the schema.
 */
export async function freshPostgresSchema() {
  const schema = `herald_test_${randomUUID().replaceAll("-", "")}`;
  const admin = postgres(testDatabaseUrl.href, { max: 1, onnotice: () => {} });
  try {
    await admin`CREATE SCHEMA ${admin(schema)}`;
  } finally {
    await admin.end();
  }
  const clients: postgres.Sql[] = [];
  return {
    schema,
    connect(): postgres.Sql {
      const sql = postgresClient(schema);
      clients.push(sql);
      return sql;
    },
    async dispose(): Promise<void> {
      await Promise.all(clients.map((sql) => sql.end({ timeout: 5 })));
      await dropSchema(schema);
    },
  };
}

/** A Redis client for tests; it gives up quickly instead of queueing commands forever. */
export function redisClient(): Redis {
  return new Redis(testRedisUrl.href, { maxRetriesPerRequest: 3 });
}

/**
 * A fresh key prefix for one test; `connect()` opens a client, as another process would.
 * `dispose()` deletes every key under the prefix and closes the clients.
 */
export function freshRedisPrefix() {
  const prefix = `herald-test:${randomUUID()}:`;
  const clients: Redis[] = [];
  return {
    prefix,
    connect(): Redis {
      const redis = redisClient();
      clients.push(redis);
      return redis;
    },
    async dispose(): Promise<void> {
      const redis = redisClient();
      try {
        await deleteKeys(redis, prefix);
      } finally {
        redis.disconnect();
        for (const client of clients) client.disconnect();
      }
    },
  };
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  // The random prefix holds no glob characters but `-` and `:`, which are literal.
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}
