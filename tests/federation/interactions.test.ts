import { DatabaseSync } from "node:sqlite";
import { beforeEach, describe, expect, it } from "vitest";
import {
  createInteractionStore,
  type Interaction,
  type InteractionStore,
} from "../../src/federation/interactions.ts";
import { SqliteKvStore } from "../../src/federation/sqlite-kv.ts";

const alice = { id: "https://a.test/users/alice", name: "Alice", handle: "@alice@a.test" };
const bob = { id: "https://b.test/users/bob" };
const reply = (n: number, published = "2026-11-29T08:00:00.000Z"): Interaction => ({
  kind: "reply",
  id: `${alice.id}/statuses/${n}`,
  actor: alice,
  contentHtml: `<p>Reply ${n}</p>`,
  published,
});
const like = (actor: { id: string }, n: number): Interaction => ({
  kind: "like",
  id: `${actor.id}#likes/${n}`,
  actor,
  published: "2026-11-29T09:00:00.000Z",
});

let store: InteractionStore;
beforeEach(() => {
  store = createInteractionStore(new SqliteKvStore(new DatabaseSync(":memory:")));
});

describe("the interaction store", () => {
  it("lists an article's interactions oldest first and counts them by kind", async () => {
    await store.add("a1", reply(2, "2026-11-29T10:00:00.000Z"));
    await store.add("a1", reply(1, "2026-11-29T07:00:00.000Z"));
    await store.add("a1", like(bob, 1));
    await store.add("a2", like(alice, 1));
    expect((await store.list("a1")).map((i) => i.id)).toEqual([
      reply(1).id,
      like(bob, 1).id,
      reply(2).id,
    ]);
    expect(await store.counts("a1")).toEqual({ replies: 2, likes: 1, boosts: 0 });
    expect(await store.counts("a2")).toEqual({ replies: 0, likes: 1, boosts: 0 });
    expect(await store.counts("none")).toEqual({ replies: 0, likes: 0, boosts: 0 });
  });

  it("counts an actor's like once, and an edited reply replaces the old one", async () => {
    await store.add("a1", like(bob, 1));
    await store.add("a1", like(bob, 2));
    await store.add("a1", reply(1));
    await store.add("a1", { ...reply(1), contentHtml: "<p>Edited</p>" });
    expect(await store.counts("a1")).toEqual({ replies: 1, likes: 1, boosts: 0 });
    expect((await store.list("a1")).find((i) => i.kind === "reply")?.contentHtml).toBe(
      "<p>Edited</p>",
    );
    // The replaced like's id no longer removes anything; the newer one does.
    expect(await store.remove(like(bob, 1).id, bob.id)).toBe(false);
    expect(await store.remove(like(bob, 2).id, bob.id)).toBe(true);
    expect(await store.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0 });
  });

  it("lets only its author take an interaction back", async () => {
    await store.add("a1", reply(1));
    expect(await store.remove(reply(1).id, bob.id)).toBe(false);
    expect(await store.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0 });
    expect(await store.remove(reply(1).id, alice.id)).toBe(true);
    expect(await store.remove(reply(1).id, alice.id)).toBe(false);
    expect(await store.list("a1")).toEqual([]);
  });

  it("removes everything of a deleted account, and nothing of others", async () => {
    await store.add("a1", reply(1));
    await store.add("a1", like(alice, 1));
    await store.add("a2", like(alice, 2));
    await store.add("a2", like(bob, 1));
    expect(await store.removeActor(alice.id)).toBe(3);
    expect(await store.counts("a1")).toEqual({ replies: 0, likes: 0, boosts: 0 });
    expect(await store.counts("a2")).toEqual({ replies: 0, likes: 1, boosts: 0 });
    expect(await store.removeActor(alice.id)).toBe(0);
  });

  it("keeps at most so many interactions per article, while edits and other articles go on", async () => {
    store = createInteractionStore(new SqliteKvStore(new DatabaseSync(":memory:")), {
      maxPerArticle: 2,
    });
    expect(await store.add("a1", reply(1))).toBe(true);
    expect(await store.add("a1", like(bob, 1))).toBe(true);
    expect(await store.add("a1", reply(2))).toBe(false);
    expect(await store.add("a1", { ...reply(1), contentHtml: "<p>Edited</p>" })).toBe(true);
    expect(await store.add("a2", reply(2))).toBe(true);
    expect(await store.counts("a1")).toEqual({ replies: 1, likes: 1, boosts: 0 });
  });

  it("neither keeps nor lists what hidden accounts and servers send, also what came before", async () => {
    const kv = new SqliteKvStore(new DatabaseSync(":memory:"));
    const carol = { id: "https://c.test/users/carol", handle: "@Carol@c.test" };
    const dave = { id: "https://sub.d.test/users/dave" };
    await createInteractionStore(kv).add("a1", like(carol, 1));
    store = createInteractionStore(kv, {
      hide: [{ user: "carol", host: "C.test" }, { domain: "d.test" }, { actor: bob.id }],
    });
    expect(await store.add("a1", like(bob, 1))).toBe(false);
    expect(await store.add("a1", like(dave, 1))).toBe(false);
    expect(await store.add("a1", reply(1))).toBe(true);
    expect(await store.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0 });
    expect((await store.list("a1")).map((i) => i.actor.id)).toEqual([alice.id]);
    // Unhidden, what was kept before shows again.
    expect(await createInteractionStore(kv).counts("a1")).toEqual({
      replies: 1,
      likes: 1,
      boosts: 0,
    });
  });

  it("moves its change time forward on every change, for the caches of pages and feeds", async () => {
    expect((await store.changedAt()).getTime()).toBe(0);
    await store.add("a1", reply(1));
    const first = await store.changedAt();
    expect(first.getTime()).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.remove(reply(1).id, alice.id);
    expect((await store.changedAt()).getTime()).toBeGreaterThan(first.getTime());
  });
});
