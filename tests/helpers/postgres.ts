import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { onTestFinished } from "vitest";
import { openPostgresArticleStore } from "../../src/backends/postgres/articles.ts";
import type { ArticleStore } from "../../src/store/store.ts";

/** PostgreSQL for tests: `DATABASE_URL`, or the local test database (trust auth). */
export const testDatabaseUrl = new URL(
  process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
);

/**
 * Whether to run the PostgreSQL tests. An explicit `DATABASE_URL` must answer (its tests
 * fail otherwise); without one, a machine with no PostgreSQL at the default address skips
 * them, so that `npm test` passes on a fresh machine.
 */
export const postgresAvailable: boolean =
  process.env.DATABASE_URL !== undefined || (await answers(testDatabaseUrl));

async function answers(url: URL): Promise<boolean> {
  const sql = postgres(url.href, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    console.warn(`PostgreSQL tests skipped: nothing answers at ${url.href}.`);
    return false;
  } finally {
    await sql.end();
  }
}

/**
 * A PostgreSQL article store in a fresh schema of its own, so tests can run in parallel;
 * the schema is dropped when the test ends. `reopen()` simulates a restart, `another()`
 * opens a second instance on the same data, as another process would.
 */
export async function postgresStore(schema = `herald_test_${randomUUID().replaceAll("-", "")}`) {
  const open = () => openPostgresArticleStore(testDatabaseUrl, { schema, max: 4 });
  let store = await open();
  const others: ArticleStore[] = [];
  onTestFinished(async () => {
    await Promise.all([store, ...others].map((s) => s.close()));
    await dropSchema(schema);
  });
  return {
    schema,
    get store(): ArticleStore {
      return store;
    },
    async reopen(): Promise<ArticleStore> {
      await store.close();
      store = await open();
      return store;
    },
    async another(): Promise<ArticleStore> {
      const other = await open();
      others.push(other);
      return other;
    },
  };
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const sql = postgres(testDatabaseUrl.href, { max: 1, onnotice: () => {} });
  try {
    await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  } finally {
    await sql.end();
  }
}

/**
 * The environment of a Herald process that keeps its state in a fresh PostgreSQL schema
 * (`DATABASE_URL` with its `search_path`), dropped when the test ends.
 */
export async function postgresSchemaEnv(prefix = "herald_e2e"): Promise<Record<string, string>> {
  const schema = `${prefix}_${randomUUID().replaceAll("-", "")}`;
  const admin = postgres(testDatabaseUrl.href, { max: 1, onnotice: () => {} });
  try {
    await admin`CREATE SCHEMA ${admin(schema)}`;
  } finally {
    await admin.end();
  }
  onTestFinished(() => dropSchema(schema));
  const url = new URL(testDatabaseUrl);
  url.searchParams.set("search_path", schema);
  return { DATABASE_URL: url.href };
}

/** Where an instance under test keeps its state: the embedded SQLite file, or a fresh schema. */
export const instanceBackends: { name: string; env: () => Promise<Record<string, string>> }[] = [
  { name: "SQLite", env: async () => ({}) },
  ...(postgresAvailable ? [{ name: "PostgreSQL", env: () => postgresSchemaEnv() }] : []),
];
