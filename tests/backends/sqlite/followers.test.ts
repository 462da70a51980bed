import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";

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
});
