import { randomUUID } from "node:crypto";
import { describe, expect, it, onTestFinished } from "vitest";
import { openPostgresFollowerStore } from "../../../src/backends/postgres/followers.ts";
import { freshPostgresSchema, postgresAvailable, postgresClient } from "../../helpers/backends.ts";
import {
  DIGEST_ORIGINS,
  digestFollower,
  digestsFromScratch,
} from "../../helpers/follower-digests.ts";

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
      // Its digests, made from the followers it had.
      expect(await main?.syncDigests(["https://a.test"])).toEqual(
        digestsFromScratch([alice.id.href]),
      );
    });

    it("gives a database made before digests were kept the digests of its followers, once", async () => {
      const schema = await freshPostgresSchema();
      onTestFinished(() => schema.dispose());
      const sql = schema.connect();
      // The table as the version before kept it, with no digest table beside it.
      await sql.unsafe(`
        CREATE TABLE herald_followers (
          account text COLLATE "C" NOT NULL DEFAULT '', actor_id text COLLATE "C" NOT NULL,
          inbox text NOT NULL, shared_inbox text, follow_id text NOT NULL,
          created_at timestamptz NOT NULL, PRIMARY KEY (account, actor_id)
        );
        CREATE INDEX herald_followers_by_account ON herald_followers (account, created_at, actor_id);
        CREATE INDEX herald_followers_by_target
          ON herald_followers (account, coalesce(shared_inbox, inbox));
      `);
      const ids = { "": [] as string[], politik: [] as string[] };
      for (let i = 0; i < 60; i++) {
        const account = i % 4 === 0 ? "politik" : "";
        const follower = digestFollower(i, i, i);
        await sql`INSERT INTO herald_followers VALUES (${account}, ${follower.id.href},
          ${follower.inbox.href}, NULL, ${follower.followId.href}, ${follower.createdAt})`;
        ids[account].push(follower.id.href);
      }
      // Several processes starting at once fill it once (twice would break its primary key).
      const [main, , , section] = await Promise.all([
        ...Array.from({ length: 3 }, () => openPostgresFollowerStore(schema.connect())),
        openPostgresFollowerStore(schema.connect(), "politik"),
      ]);
      expect(await main?.syncDigests(DIGEST_ORIGINS)).toEqual(digestsFromScratch(ids[""]));
      expect(await section?.syncDigests(DIGEST_ORIGINS)).toEqual(digestsFromScratch(ids.politik));
      // Opened again, it is not filled again; a follow since is counted once.
      const newcomer = digestFollower(0, 1000, 1000);
      await main?.add(newcomer);
      const again = await openPostgresFollowerStore(schema.connect());
      expect(await again.syncDigests(DIGEST_ORIGINS)).toEqual(
        digestsFromScratch([...ids[""], newcomer.id.href]),
      );
    });

    it("keeps the digests right when processes add and remove the same followers at once", async () => {
      const schema = await freshPostgresSchema();
      onTestFinished(() => schema.dispose());
      const processes = await Promise.all(
        Array.from({ length: 4 }, () => openPostgresFollowerStore(schema.connect())),
      );
      const followers = Array.from({ length: 40 }, (_, i) => digestFollower(i, i, i));
      const ids = (list: typeof followers) => list.map((follower) => follower.id.href);
      // Each follow reaches every process at once (a retried delivery, several workers), each
      // time with its own follow id.
      await Promise.all(
        processes.flatMap((store, p) =>
          followers.map((follower) =>
            store.add({ ...follower, followId: new URL(`${follower.followId.href}/${p}`) }),
          ),
        ),
      );
      const [first] = processes;
      expect(await first?.count()).toBe(followers.length);
      expect(await first?.syncDigests(DIGEST_ORIGINS)).toEqual(digestsFromScratch(ids(followers)));
      // Half of them leave, told to every process, while the others follow again.
      const leaving = followers.filter((_, i) => i % 2 === 1);
      const staying = followers.filter((_, i) => i % 2 === 0);
      await Promise.all(
        processes.flatMap((store) => [
          ...leaving.map((follower) => store.removeByActor(follower.id)),
          ...staying.map((follower) => store.add(follower)),
        ]),
      );
      expect(await first?.syncDigests(DIGEST_ORIGINS)).toEqual(digestsFromScratch(ids(staying)));
    });

    it("fails with a clear message when the schema is missing", async () => {
      const sql = postgresClient(`no_such_schema_${randomUUID().slice(0, 8)}`, 1);
      onTestFinished(() => sql.end({ timeout: 5 }));
      await expect(openPostgresFollowerStore(sql)).rejects.toThrow(/no current schema/);
    });
  });
});
