import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { openSqliteInteractionStore } from "../../../src/backends/sqlite/interactions.ts";
import { SqliteKvStore } from "../../../src/backends/sqlite/kv.ts";
import { importKvInteractions } from "../../../src/federation/interactions/legacy.ts";
import type { Interaction } from "../../../src/interactions.ts";

const alice = { id: "https://a.test/users/alice" };
const reply: Interaction = {
  kind: "reply",
  id: `${alice.id}/statuses/1`,
  actor: alice,
  contentHtml: "<p>Hallo</p>",
  published: "2026-11-29T08:00:00.000Z",
};
const like: Interaction = {
  kind: "like",
  id: `${alice.id}#likes/1`,
  actor: alice,
  published: "2026-11-29T09:00:00.000Z",
};

describe("importKvInteractions()", () => {
  it("moves what the KV store kept into the store, once", async () => {
    const db = new DatabaseSync(":memory:");
    const kv = new SqliteKvStore(db);
    // The layout of the KV-based store this replaces.
    await kv.set(["herald", "interactions", "a1", "reply", reply.id], reply);
    await kv.set(["herald", "interaction-keys", reply.id], ["a1", "reply", reply.id]);
    await kv.set(["herald", "interactions", "a2", "like", alice.id], like);
    await kv.set(["herald", "interaction-keys", like.id], ["a2", "like", alice.id]);
    await kv.set(["herald", "interactions-changed"], "2026-11-29T09:00:00.000Z");
    await kv.set(["herald", "other"], 1);
    const store = openSqliteInteractionStore(db);

    expect(await importKvInteractions(kv, store)).toBe(2);
    expect(await store.list("a1")).toEqual([reply]);
    expect(await store.counts("a2")).toEqual({ replies: 0, likes: 1, boosts: 0, quotes: 0 });
    const left = [];
    for await (const { key } of kv.list(["herald"])) left.push(key);
    expect(left).toEqual([["herald", "other"]]);
    expect(await importKvInteractions(kv, store)).toBe(0);
  });
});
