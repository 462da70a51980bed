import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { describe, expect, it, onTestFinished } from "vitest";
import { openPostgresArticleStore } from "../../../src/backends/postgres/articles.ts";
import { dropSchema, postgresAvailable, testDatabaseUrl } from "../../helpers/postgres.ts";

/**
 * A fresh schema with the store's tables made (dropped after the test), and a connection to
 * change them as an older release left them.
 */
async function createdStoreSchema() {
  const schema = `herald_test_${randomUUID().replaceAll("-", "")}`;
  const admin = postgres(testDatabaseUrl.href, { max: 1, onnotice: () => {} });
  onTestFinished(async () => {
    await admin.end();
    await dropSchema(schema);
  });
  await (await openPostgresArticleStore(testDatabaseUrl, { schema, max: 1 })).close();
  return { schema, admin };
}

describe.runIf(postgresAvailable)("PostgreSQL", () => {
  describe("openPostgresArticleStore()", () => {
    it("creates the schema and tables once when several processes start at once", async () => {
      const schema = `herald_test_${randomUUID().replaceAll("-", "")}`;
      const opening = Array.from({ length: 4 }, () =>
        openPostgresArticleStore(testDatabaseUrl, { schema, max: 1 }),
      );
      onTestFinished(async () => {
        const opened = await Promise.allSettled(opening);
        for (const result of opened) if (result.status === "fulfilled") await result.value.close();
        await dropSchema(schema);
      });
      const stores = await Promise.all(opening);
      for (const store of stores) expect(await store.countPublished()).toBe(0);
    });

    it("keeps its tables, and its scan lock, in the schema ?search_path= names on the URL", async () => {
      const schemas = [0, 1].map(() => `herald_test_${randomUUID().replaceAll("-", "")}`);
      const admin = postgres(testDatabaseUrl.href, { max: 1, onnotice: () => {} });
      onTestFinished(async () => {
        await admin.end();
        for (const schema of schemas) await dropSchema(schema);
      });
      for (const schema of schemas) await admin`CREATE SCHEMA ${admin(schema)}`;
      const open = (schema: string) => {
        const url = new URL(testDatabaseUrl);
        url.searchParams.set("search_path", schema);
        return openPostgresArticleStore(url, { max: 1 });
      };
      const [a, a2, b] = await Promise.all([
        open(schemas[0] ?? ""),
        open(schemas[0] ?? ""),
        open(schemas[1] ?? ""),
      ]);
      onTestFinished(async () => {
        for (const store of [a, a2, b]) await store?.close();
      });
      const tables = await admin<{ name: string }[]>`
        SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = ${schemas[0] ?? ""} ORDER BY table_name`;
      expect(tables.map((t) => t.name)).toEqual([
        "herald_articles",
        "herald_cursors",
        "herald_events",
        "herald_files",
        "herald_meta",
      ]);
      const lock = await a?.tryLockScan();
      expect(lock).toBeDefined();
      expect(await a2?.tryLockScan()).toBeUndefined(); // same schema: one scan at a time
      const other = await b?.tryLockScan(); // another schema is another site
      expect(other).toBeDefined();
      await lock?.release();
      await other?.release();
    });

    it("adds the case-insensitive tag index to a store made before it", async () => {
      const { schema, admin } = await createdStoreSchema();
      // As the first release left it: an index on the tags as written, no tag keys.
      await admin.unsafe(`SET search_path = "${schema}";
        DROP INDEX herald_articles_tag_keys; DROP FUNCTION herald_tag_keys(jsonb);
        CREATE INDEX herald_articles_tags ON herald_articles USING gin ((data -> 'tags'));`);
      const store = await openPostgresArticleStore(testDatabaseUrl, { schema, max: 1 });
      onTestFinished(() => store.close());
      expect(await store.listPublished({ tag: "Haushalt" })).toEqual([]);
      const indexes = await admin<{ name: string }[]>`
        SELECT indexname AS name FROM pg_indexes
        WHERE schemaname = ${schema} AND indexname LIKE '%tag%'`;
      expect(indexes.map((i) => i.name)).toEqual(["herald_articles_tag_keys"]);
    });

    it("adds the indexed updated column to a store made before it, filled from the articles", async () => {
      const { schema, admin } = await createdStoreSchema();
      // As releases before issue #17 left it: the last change only in each article's JSON.
      await admin.unsafe(`SET search_path = "${schema}";
        DROP INDEX herald_articles_state_updated; ALTER TABLE herald_articles DROP COLUMN updated;
        INSERT INTO herald_articles VALUES
          ('a', 'a', 'published', false, now(), '2026-01-01Z', 'h', '{"updated": "2026-01-05T00:00:00.000Z", "tags": ["Rat"]}'),
          ('b', 'b', 'deleted', false, now(), '2026-01-02Z', 'h', '{"updated": "2026-01-09T00:00:00.000Z", "tags": []}');`);
      for (let open = 0; open < 2; open++) {
        const store = await openPostgresArticleStore(testDatabaseUrl, { schema, max: 1 });
        expect(await store.lastChange()).toEqual(new Date("2026-01-09T00:00:00Z"));
        expect(await store.lastChange("rat")).toEqual(new Date("2026-01-05T00:00:00Z"));
        expect(await store.listPublishedLinks(5)).toEqual([
          { slug: "a", updated: new Date("2026-01-05T00:00:00Z") },
        ]);
        await store.close();
      }
    });

    it("fails with a clear message when the URL's search_path names no schema", async () => {
      const url = new URL(testDatabaseUrl);
      url.searchParams.set("search_path", `no_such_schema_${randomUUID().slice(0, 8)}`);
      await expect(openPostgresArticleStore(url, { max: 1 })).rejects.toThrow(/no current schema/);
    });

    it("refuses a schema name it would have to quote", async () => {
      await expect(
        openPostgresArticleStore(testDatabaseUrl, { schema: 'x"; DROP TABLE y; --' }),
      ).rejects.toThrow(/schema name/);
    });
  });
});
