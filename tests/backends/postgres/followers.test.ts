import { randomUUID } from "node:crypto";
import { describe, expect, it, onTestFinished } from "vitest";
import { openPostgresFollowerStore } from "../../../src/backends/postgres/followers.ts";
import { freshPostgresSchema, postgresAvailable, postgresClient } from "../../helpers/backends.ts";

const alice = {
  id: new URL("https://a.test/users/alice"),
  inbox: new URL("https://a.test/users/alice/inbox"),
  sharedInbox: new URL("https://a.test/inbox"),
  followId: new URL("https://a.test/follows/1"),
  createdAt: new Date("2026-03-01T00:00:00.000Z"),
};

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  describe("openPostgresFollowerStore()", () => {
    it("shares followers between processes, with one table made when they start at once", async () => {
      const schema = await freshPostgresSchema();
      onTestFinished(() => schema.dispose());
      const [web, worker] = await Promise.all(
        Array.from({ length: 4 }, () => openPostgresFollowerStore(schema.connect())),
      );
      await worker?.add(alice);
      expect(await web?.get(alice.id)).toEqual(alice);
      expect((await web?.inboxes())?.map((group) => group.inbox)).toEqual([alice.sharedInbox]);
    });

    it("moves the followers of an older table, without accounts, to the main account", async () => {
      const schema = await freshPostgresSchema();
      onTestFinished(() => schema.dispose());
      const sql = schema.connect();
      await sql.unsafe(`
        CREATE TABLE herald_followers (
          actor_id text COLLATE "C" PRIMARY KEY, inbox text NOT NULL, shared_inbox text,
          follow_id text NOT NULL, created_at timestamptz NOT NULL
        );
        CREATE INDEX herald_followers_by_age ON herald_followers (created_at, actor_id);
        INSERT INTO herald_followers VALUES ('${alice.id.href}', '${alice.inbox.href}',
          '${alice.sharedInbox.href}', '${alice.followId.href}', '2026-03-01T00:00:00Z');
      `);
      const [main, section] = await Promise.all([
        openPostgresFollowerStore(schema.connect()),
        openPostgresFollowerStore(schema.connect(), "politik"),
      ]);
      expect(await main?.get(alice.id)).toEqual(alice);
      expect(await section?.count()).toBe(0);
      await section?.add({ ...alice, followId: new URL("https://a.test/follows/2") });
      expect([await main?.count(), await section?.count()]).toEqual([1, 1]);
      // It gets the index of a later version too: the followers behind a fan-out's inboxes.
      const [index] = await sql<{ found: boolean }[]>`
        SELECT to_regclass('"herald_followers_by_target"') IS NOT NULL AS found`;
      expect(index?.found).toBe(true);
      const plan = await sql.unsafe(`
        SET enable_seqscan = off;
        EXPLAIN SELECT actor_id FROM herald_followers
        WHERE account = '' AND coalesce(shared_inbox, inbox) = ANY('{https://a.test/inbox}')`);
      expect(JSON.stringify(plan)).toContain("herald_followers_by_target");
    });

    it("fails with a clear message when the schema is missing", async () => {
      const sql = postgresClient(`no_such_schema_${randomUUID().slice(0, 8)}`, 1);
      onTestFinished(() => sql.end({ timeout: 5 }));
      await expect(openPostgresFollowerStore(sql)).rejects.toThrow(/no current schema/);
    });
  });
});
