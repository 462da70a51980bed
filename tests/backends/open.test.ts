import { randomUUID } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it, onTestFinished } from "vitest";
import { type FederationBackends, openFederationBackends } from "../../src/backends/open.ts";
import { PostgresKvStore } from "../../src/backends/postgres/kv.ts";
import { PostgresMessageQueue } from "../../src/backends/postgres/queue.ts";
import { RedisKvStore } from "../../src/backends/redis/kv.ts";
import { RedisMessageQueue } from "../../src/backends/redis/queue.ts";
import { SqliteKvStore } from "../../src/backends/sqlite/kv.ts";
import { SqliteMessageQueue } from "../../src/backends/sqlite/queue.ts";
import { waitUntil } from "../contracts/queue.ts";
import {
  freshPostgresSchema,
  freshRedisPrefix,
  postgresAvailable,
  redisAvailable,
  redisClient,
  testDatabaseUrl,
  testRedisUrl,
} from "../helpers/backends.ts";

/** Stores a value, then hands one message from the queue to a listener. */
async function roundTrip(backends: FederationBackends): Promise<void> {
  await backends.kv.set(["k"], { v: 1 });
  expect(await backends.kv.get(["k"])).toEqual({ v: 1 });
  const received: unknown[] = [];
  const controller = new AbortController();
  const listening = backends.queue.listen((message) => void received.push(message), {
    signal: controller.signal,
  });
  await backends.queue.enqueue({ hello: "world" });
  await waitUntil(() => received.length === 1);
  controller.abort();
  await listening;
  expect(received).toEqual([{ hello: "world" }]);
}

const secretly = (url: URL, password: string) => {
  const copy = new URL(url);
  copy.password = password;
  return copy;
};

describe("openFederationBackends()", () => {
  it("uses the embedded SQLite database when neither URL is set", async () => {
    const db = new DatabaseSync(":memory:");
    onTestFinished(() => db.close());
    const backends = await openFederationBackends({ dataDb: db });
    expect(backends.kv).toBeInstanceOf(SqliteKvStore);
    expect(backends.queue).toBeInstanceOf(SqliteMessageQueue);
    expect(backends.describe).toMatch(/SQLite/);
    await roundTrip(backends);
    await backends.close();
    expect(db.isOpen).toBe(true); // the caller's
  });

  it("asks for the SQLite database when neither URL is set", async () => {
    await expect(openFederationBackends({ dataDb: undefined })).rejects.toThrow(/SQLite/);
  });

  it.runIf(postgresAvailable)(
    "uses PostgreSQL with DATABASE_URL, in the schema the URL names",
    async () => {
      const schema = await freshPostgresSchema();
      onTestFinished(() => schema.dispose());
      const url = new URL(testDatabaseUrl);
      url.searchParams.set("search_path", schema.schema);
      const backends = await openFederationBackends({
        databaseUrl: secretly(url, "s3cret"),
        dataDb: undefined,
      });
      onTestFinished(() => backends.close());
      expect(backends.kv).toBeInstanceOf(PostgresKvStore);
      expect(backends.queue).toBeInstanceOf(PostgresMessageQueue);
      expect(backends.describe).toMatch(/PostgreSQL at postgres:\/\/127\.0\.0\.1:5432\/test$/);
      await roundTrip(backends);
      const sql = schema.connect();
      const tables = await sql<{ name: string }[]>`
        SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = ${schema.schema} ORDER BY table_name`;
      expect(tables.map((t) => t.name)).toEqual(["herald_kv", "herald_queue"]);
    },
  );

  it.runIf(postgresAvailable)(
    "uses a PostgreSQL client handed in, and leaves it open",
    async () => {
      const schema = await freshPostgresSchema();
      onTestFinished(() => schema.dispose());
      const sql = schema.connect();
      const backends = await openFederationBackends({
        databaseUrl: testDatabaseUrl,
        dataDb: undefined,
        postgres: sql,
      });
      await roundTrip(backends);
      await backends.close();
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::integer AS n FROM herald_kv`;
      expect(row?.n).toBe(1);
    },
  );

  it.runIf(redisAvailable)(
    "uses Redis for both with REDIS_URL, even with DATABASE_URL",
    async () => {
      const space = freshRedisPrefix();
      onTestFinished(() => space.dispose());
      const backends = await openFederationBackends(
        {
          redisUrl: testRedisUrl,
          databaseUrl: new URL("postgres://nobody@127.0.0.1:1/none"),
          dataDb: undefined,
        },
        { redisKeyPrefix: space.prefix },
      );
      onTestFinished(() => backends.close());
      expect(backends.kv).toBeInstanceOf(RedisKvStore);
      expect(backends.queue).toBeInstanceOf(RedisMessageQueue);
      expect(backends.describe).toMatch(/Redis at redis:\/\/127\.0\.0\.1:6379$/);
      await roundTrip(backends);
      const redis = redisClient();
      onTestFinished(() => void redis.disconnect());
      expect(await redis.get(`${space.prefix}kv:["k"]`)).toBe('{"v":1}');
    },
  );

  it("fails at once, without the password, when Redis does not answer", async () => {
    const url = new URL(`redis://:hunter2@127.0.0.1:1/0?x=${randomUUID()}`);
    const error = await openFederationBackends({ redisUrl: url, dataDb: undefined }).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^Redis at redis:\/\/127\.0\.0\.1:1\/0 does not answer: /,
    );
    expect((error as Error).message).not.toMatch(/hunter2/);
  });

  it.runIf(postgresAvailable)("fails with a clear message when the schema is missing", async () => {
    const url = new URL(testDatabaseUrl);
    url.searchParams.set("search_path", `no_such_schema_${randomUUID().slice(0, 8)}`);
    await expect(openFederationBackends({ databaseUrl: url, dataDb: undefined })).rejects.toThrow(
      /no current schema/,
    );
  });
});
