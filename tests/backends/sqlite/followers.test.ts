import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";
import {
  DIGEST_ORIGINS,
  digestFollower,
  digestsFromScratch,
} from "../../helpers/follower-digests.ts";

describe("openSqliteFollowerStore()", () => {
  it("keeps followers across reopening the database file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herald-followers-"));
    const path = join(dir, "herald.sqlite");
    try {
      const db = new DatabaseSync(path);
      await openSqliteFollowerStore(db).add({
        id: new URL("https://a.test/users/alice"),
        inbox: new URL("https://a.test/users/alice/inbox"),
        followId: new URL("https://a.test/follows/1"),
        createdAt: new Date("2026-03-01T00:00:00.000Z"),
      });
      db.close();
      const reopened = new DatabaseSync(path);
      expect(await openSqliteFollowerStore(reopened).count()).toBe(1);
      reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("moves the followers of an older table, without accounts, to the main account", async () => {
    const db = new DatabaseSync(":memory:");
    db.exec(`
      CREATE TABLE federation_followers (
        actor_id TEXT PRIMARY KEY, inbox TEXT NOT NULL, shared_inbox TEXT,
        follow_id TEXT NOT NULL, created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX federation_followers_by_age ON federation_followers (created_at, actor_id);
      INSERT INTO federation_followers VALUES
        ('https://a.test/users/alice', 'https://a.test/users/alice/inbox', 'https://a.test/inbox',
         'https://a.test/follows/1', 1772323200000);
    `);
    const main = openSqliteFollowerStore(db);
    const section = openSqliteFollowerStore(db, "politik");
    expect((await main.get(new URL("https://a.test/users/alice")))?.sharedInbox?.href).toBe(
      "https://a.test/inbox",
    );
    expect(await section.count()).toBe(0);
    await section.add({
      id: new URL("https://a.test/users/alice"),
      inbox: new URL("https://a.test/users/alice/inbox"),
      followId: new URL("https://a.test/follows/2"),
      createdAt: new Date("2026-03-02T00:00:00.000Z"),
    });
    expect([await main.count(), await section.count()]).toEqual([1, 1]);
    // Each account's digest: the main account's made from the table it had, the section's new.
    const alice = ["https://a.test/users/alice"];
    expect(await main.syncDigests(["https://a.test"])).toEqual(digestsFromScratch(alice));
    expect(await section.syncDigests(["https://a.test"])).toEqual(digestsFromScratch(alice));
    db.close();
  });

  it("gives a database made before digests were kept the digests of its followers, once", async () => {
    const db = new DatabaseSync(":memory:");
    // The table as the version before kept it, with no digest table beside it.
    db.exec(`
      CREATE TABLE federation_followers (
        account TEXT NOT NULL DEFAULT '', actor_id TEXT NOT NULL, inbox TEXT NOT NULL,
        shared_inbox TEXT, follow_id TEXT NOT NULL, created_at INTEGER NOT NULL,
        PRIMARY KEY (account, actor_id)
      ) STRICT;
    `);
    const insert = db.prepare("INSERT INTO federation_followers VALUES (?, ?, ?, ?, ?, ?)");
    const ids = { "": [] as string[], politik: [] as string[] };
    for (let i = 0; i < 60; i++) {
      const account = i % 4 === 0 ? "politik" : "";
      const follower = digestFollower(i, i, i);
      insert.run(account, follower.id.href, follower.inbox.href, null, follower.followId.href, i);
      ids[account].push(follower.id.href);
    }
    const main = openSqliteFollowerStore(db);
    const section = openSqliteFollowerStore(db, "politik");
    expect(await main.syncDigests(DIGEST_ORIGINS)).toEqual(digestsFromScratch(ids[""]));
    expect(await section.syncDigests(DIGEST_ORIGINS)).toEqual(digestsFromScratch(ids.politik));
    // Opened again, it is not filled again; a follow since is counted once.
    const newcomer = digestFollower(0, 1000, 1000);
    await main.add(newcomer);
    expect(await openSqliteFollowerStore(db).syncDigests(DIGEST_ORIGINS)).toEqual(
      digestsFromScratch([...ids[""], newcomer.id.href]),
    );
    db.close();
  });

  it("adds and removes inside a transaction of the caller's, which commits or rolls back all", async () => {
    const db = new DatabaseSync(":memory:");
    const store = openSqliteFollowerStore(db);
    const [kept, dropped] = [digestFollower(0, 1, 1), digestFollower(0, 2, 2)];
    db.exec("BEGIN");
    await store.add(kept);
    db.exec("COMMIT");
    db.exec("BEGIN");
    await store.add(dropped);
    await store.removeByActor(kept.id);
    db.exec("ROLLBACK");
    expect((await store.list()).items.map((follower) => follower.id.href)).toEqual([kept.id.href]);
    expect(await store.syncDigests(DIGEST_ORIGINS)).toEqual(digestsFromScratch([kept.id.href]));
    db.close();
  });
});
