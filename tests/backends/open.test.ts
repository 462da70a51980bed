import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { type Backends, openBackends } from "../../src/backends/open.ts";
import { PostgresArticleStore } from "../../src/backends/postgres/articles.ts";
import { PostgresKvStore } from "../../src/backends/postgres/kv.ts";
import { PostgresMessageQueue } from "../../src/backends/postgres/queue.ts";
import { RedisKvStore } from "../../src/backends/redis/kv.ts";
import { RedisMessageQueue } from "../../src/backends/redis/queue.ts";
import { SqliteArticleStore } from "../../src/backends/sqlite/articles.ts";
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
async function roundTrip(backends: Backends): Promise<void> {
  await backends.kv.set(["k"], { v: 1 });
  expect(await backends.kv.get(["k"])).toEqual({ v: 1 });
  const received: unknown[] = [];
  const controller = new AbortController();
  const listening = backends.queue.listen((message: unknown) => void received.push(message), {
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

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "herald-backends-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("openBackends()", () => {
  it("keeps everything in the embedded SQLite database when neither URL is set", async () => {
    const dir = await dataDir();
    const backends = await openBackends({ dataDir: dir });
    expect(backends.articles).toBeInstanceOf(SqliteArticleStore);
    expect(backends.kv).toBeInstanceOf(SqliteKvStore);
    expect(backends.queue).toBeInstanceOf(SqliteMessageQueue);
    expect(backends.describe).toEqual({
      articles: `SQLite in ${dir}`,
      federation: "KV store and delivery queue in the embedded SQLite database",
    });
    await roundTrip(backends);
    await backends.followers.count();
    await backends.close();
    expect(existsSync(join(dir, "herald.sqlite"))).toBe(true);
  });

  it.runIf(postgresAvailable)(
    "keeps everything in PostgreSQL with DATABASE_URL, in the schema the URL names, and opens no SQLite file",
    async () => {
      const schema = await freshPostgresSchema();
      onTestFinished(() => schema.dispose());
      const url = new URL(testDatabaseUrl);
      url.searchParams.set("search_path", schema.schema);
      const dir = await dataDir();
      const backends = await openBackends({ dataDir: dir, databaseUrl: secretly(url, "s3cret") });
      onTestFinished(() => backends.close());
      expect(backends.articles).toBeInstanceOf(PostgresArticleStore);
      expect(backends.kv).toBeInstanceOf(PostgresKvStore);
      expect(backends.queue).toBeInstanceOf(PostgresMessageQueue);
      expect(backends.describe.articles).toBe("PostgreSQL at 127.0.0.1:5432");
      expect(backends.describe.federation).toMatch(
        /PostgreSQL at postgres:\/\/127\.0\.0\.1:5432\/test$/,
      );
      await roundTrip(backends);
      await backends.followers.count();
      await backends.ledger.rows();
      await (await backends.openInteractions({})).changedAt();
      const sql = schema.connect();
      const tables = await sql<{ name: string }[]>`
        SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = ${schema.schema} AND table_name LIKE 'herald_%' ORDER BY table_name`;
      expect(tables.map((t) => t.name)).toEqual(
        expect.arrayContaining(["herald_articles", "herald_kv", "herald_queue"]),
      );
      expect(existsSync(join(dir, "herald.sqlite"))).toBe(false);
    },
  );

  it.runIf(redisAvailable)(
    "keeps the KV store and the queue in Redis with REDIS_URL, the rest in SQLite",
    async () => {
      const space = freshRedisPrefix();
      onTestFinished(() => space.dispose());
      const backends = await openBackends(
        { dataDir: await dataDir(), redisUrl: testRedisUrl },
        { redisKeyPrefix: space.prefix },
      );
      onTestFinished(() => backends.close());
      expect(backends.articles).toBeInstanceOf(SqliteArticleStore);
      expect(backends.kv).toBeInstanceOf(RedisKvStore);
      expect(backends.queue).toBeInstanceOf(RedisMessageQueue);
      expect(backends.describe.federation).toMatch(/Redis at redis:\/\/127\.0\.0\.1:6379$/);
      await roundTrip(backends);
      const redis = redisClient();
      onTestFinished(() => void redis.disconnect());
      expect(await redis.get(`${space.prefix}kv:["k"]`)).toBe('{"v":1}');
    },
  );

  it("fails at once, without the password, when Redis does not answer", async () => {
    const url = new URL(`redis://:hunter2@127.0.0.1:1/0?x=${randomUUID()}`);
    const error = await openBackends({ dataDir: await dataDir(), redisUrl: url }).catch(
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
    await expect(openBackends({ dataDir: await dataDir(), databaseUrl: url })).rejects.toThrow(
      /no current schema/,
    );
  });
});
