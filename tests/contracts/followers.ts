/**
 * The contract every `FollowerStore` meets; each implementation's test runs it.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { Follower, FollowerStore } from "../../src/federation/followers.ts";
import { DIGEST_ORIGINS, digestFollower, digestsFromScratch } from "../helpers/follower-digests.ts";
import { prng } from "../helpers/prng.ts";

export function followerStoreContract(
  name: string,
  open: () => Promise<{
    store: FollowerStore;
    /** The followers of another account (a section's) in the same database. */
    section: FollowerStore;
    close: () => Promise<void>;
  }>,
): void {
  describe(`FollowerStore contract: ${name}`, () => {
    let store: FollowerStore;
    let section: FollowerStore;
    beforeEach(async (context) => {
      const opened = await open();
      store = opened.store;
      section = opened.section;
      context.onTestFinished(opened.close);
    });

    it("keeps each account's followers apart", async () => {
      await store.add(alice);
      await store.add(bob);
      await section.add({ ...alice, followId: new URL("https://a.test/follows/section") });
      expect(await store.count()).toBe(2);
      expect(await section.count()).toBe(1);
      expect((await section.get(alice.id))?.followId.href).toBe("https://a.test/follows/section");
      expect(await section.get(bob.id)).toBeUndefined();
      expect((await section.inboxes()).flatMap((g) => g.actorIds)).toEqual([alice.id.href]);
      expect(await section.removeByActor(alice.id)).toBe(true);
      expect(await store.get(alice.id)).toEqual(alice);
      expect((await section.list()).items).toEqual([]);
    });

    it("adds a follower with its inboxes, follow id and time", async () => {
      await store.add(alice);
      expect(await store.get(alice.id)).toEqual(alice);
      expect(await store.count()).toBe(1);
    });

    it("refreshes a follower that follows again instead of adding it twice", async () => {
      await store.add(alice);
      const refollow = {
        ...alice,
        followId: new URL("https://a.test/follows/2"),
        createdAt: new Date("2026-04-01T00:00:00.000Z"),
      };
      await store.add(refollow);
      expect(await store.count()).toBe(1);
      // Refreshed follow id; the first time kept, so the follower keeps its place in the list.
      expect(await store.get(alice.id)).toEqual({ ...alice, followId: refollow.followId });
    });

    it("removes by follow id only when the actor matches", async () => {
      await store.add(alice);
      expect(await store.removeByFollow(alice.followId, bob.id)).toBe(false);
      expect(await store.count()).toBe(1);
      expect(await store.removeByFollow(alice.followId, alice.id)).toBe(true);
      expect(await store.count()).toBe(0);
    });

    it("removes by actor id", async () => {
      await store.add(alice);
      await store.add(bob);
      expect(await store.removeByActor(alice.id)).toBe(true);
      expect(await store.removeByActor(alice.id)).toBe(false);
      expect(await store.get(alice.id)).toBeUndefined();
      expect(await store.count()).toBe(1);
    });

    it("lists in pages, oldest first", async () => {
      for (const follower of [carol, alice, bob]) await store.add(follower);
      const first = await store.list({ limit: 2 });
      expect(first.items.map((f) => f.id.href)).toEqual([alice.id.href, bob.id.href]);
      expect(first.nextCursor).toBeDefined();
      const second = await store.list({ limit: 2, cursor: first.nextCursor });
      expect(second.items.map((f) => f.id.href)).toEqual([carol.id.href]);
      expect(second.nextCursor).toBeUndefined();
    });

    it("pages through followers of the same millisecond once each, a follower leaving meanwhile", async () => {
      const same = new Date("2026-02-01T00:00:00.000Z");
      const many = ["e", "b", "d", "a", "c"].map((n) => ({
        id: new URL(`https://m.test/users/${n}`),
        inbox: new URL(`https://m.test/users/${n}/inbox`),
        sharedInbox: new URL("https://m.test/inbox"),
        followId: new URL(`https://m.test/follows/${n}`),
        createdAt: same,
      }));
      for (const follower of many) await store.add(follower);
      const seen: string[] = [];
      let page = await store.list({ limit: 2 });
      seen.push(...page.items.map((f) => f.id.pathname));
      // The last follower listed leaves: the next page still starts right after it.
      await store.removeByActor(page.items[1]?.id ?? alice.id);
      while (page.nextCursor !== undefined) {
        page = await store.list({ limit: 2, cursor: page.nextCursor });
        seen.push(...page.items.map((f) => f.id.pathname));
      }
      expect(seen).toEqual(["/users/a", "/users/b", "/users/c", "/users/d", "/users/e"]);
      // A bare number, as pages linked before keyset cursors, is still an offset.
      const offset = await store.list({ limit: 2, cursor: "1" });
      expect(offset.items.map((f) => f.id.pathname)).toEqual(["/users/c", "/users/d"]);
    });

    it("groups delivery inboxes by shared inbox", async () => {
      for (const follower of [alice, bob, carol]) await store.add(follower);
      const groups = await store.inboxes();
      const shared = groups.find((group) => group.inbox.href === "https://a.test/inbox");
      expect(shared?.sharedInbox).toBe(true);
      expect([...(shared?.actorIds ?? [])].sort()).toEqual([alice.id.href, bob.id.href]);
      const personal = groups.find((group) => group.inbox.href === carol.inbox.href);
      expect(personal?.sharedInbox).toBe(false);
      expect(personal?.actorIds).toEqual([carol.id.href]);
      expect(groups).toHaveLength(2);
    });

    it("groups only one server's followers when asked for an actor prefix", async () => {
      for (const follower of [alice, bob, carol]) await store.add(follower);
      const groups = await store.inboxes({ actorPrefix: "https://a.test/" });
      expect(groups).toHaveLength(1);
      expect([...(groups[0]?.actorIds ?? [])].sort()).toEqual([alice.id.href, bob.id.href]);
      expect(await store.inboxes({ actorPrefix: "https://nobody.test/" })).toEqual([]);
    });

    it("lists each delivery inbox once, with one of the followers behind it", async () => {
      for (const follower of [alice, bob, carol]) await store.add(follower);
      const inboxes = await store.deliveryInboxes();
      expect(inboxes.map(({ inbox, sharedInbox }) => [inbox.href, sharedInbox])).toEqual([
        ["https://a.test/inbox", true],
        [carol.inbox.href, false],
      ]);
      expect([alice.id.href, bob.id.href]).toContain(inboxes[0]?.actorId);
      expect(inboxes[1]?.actorId).toBe(carol.id.href);
    });

    it("groups only the followers behind the inboxes asked for", async () => {
      for (const follower of [alice, bob, carol]) await store.add(follower);
      const shared = await store.inboxes({ inboxes: ["https://a.test/inbox"] });
      expect(shared.map((group) => group.inbox.href)).toEqual(["https://a.test/inbox"]);
      expect([...(shared[0]?.actorIds ?? [])].sort()).toEqual([alice.id.href, bob.id.href]);
      const both = await store.inboxes({ inboxes: [carol.inbox.href, "https://a.test/inbox"] });
      expect(both.map((group) => group.inbox.href).sort()).toEqual(
        [carol.inbox.href, "https://a.test/inbox"].sort(),
      );
      // A follower's own inbox is not a delivery inbox when its server has a shared one.
      expect(await store.inboxes({ inboxes: [alice.inbox.href] })).toEqual([]);
      expect(await store.inboxes({ inboxes: [] })).toEqual([]);
    });

    it("keeps each server's FEP-8fcf digest, the one computed from scratch, through random follows and unfollows", async () => {
      const random = prng(0x8fcf);
      const pick = (n: number) => Math.floor(random() * n);
      // Each account's followers as they should be: actor id → its follow id.
      const main = { store, model: new Map<string, URL>() };
      const other = { store: section, model: new Map<string, URL>() };
      const accounts = [main, other];
      const check = async () => {
        for (const { store, model } of accounts) {
          expect(await store.syncDigests(DIGEST_ORIGINS)).toEqual(digestsFromScratch(model.keys()));
        }
      };
      for (let step = 0; step < 300; step++) {
        const { store, model } = pick(2) === 0 ? main : other;
        const follower = digestFollower(pick(DIGEST_ORIGINS.length), pick(6), step);
        const id = follower.id.href;
        const followId = model.get(id);
        switch (pick(4)) {
          case 0: // a follow, or a follow again (a new follow id, the same follower)
            await store.add(follower);
            model.set(id, follower.followId);
            break;
          case 1: // an Undo of the follow we know, when there is one
            expect(await store.removeByFollow(followId ?? follower.followId, follower.id)).toBe(
              followId !== undefined,
            );
            model.delete(id);
            break;
          case 2: // an Undo of a follow that is not (or no longer) the follower's
            expect(await store.removeByFollow(follower.followId, follower.id)).toBe(false);
            break;
          default: // the actor deleted
            expect(await store.removeByActor(follower.id)).toBe(followId !== undefined);
            model.delete(id);
        }
        if (step % 20 === 0) await check();
      }
      await check();
      // Every follower leaves: no server keeps a digest.
      for (const { store, model } of accounts) {
        for (const id of model.keys()) await store.removeByActor(new URL(id));
        expect(await store.syncDigests(DIGEST_ORIGINS)).toEqual(new Map());
      }
    });

    it("answers the digests of the servers asked for only", async () => {
      for (const follower of [alice, bob, carol]) await store.add(follower);
      const digests = digestsFromScratch([alice.id.href, bob.id.href, carol.id.href]);
      expect(await store.syncDigests(["https://a.test"])).toEqual(
        new Map([["https://a.test", digests.get("https://a.test")]]),
      );
      expect(await store.syncDigests(["https://c.test", "https://nobody.test"])).toEqual(
        new Map([["https://c.test", digests.get("https://c.test")]]),
      );
      expect(await store.syncDigests([])).toEqual(new Map());
      expect(await section.syncDigests(["https://a.test"])).toEqual(new Map());
    });
  });
}

const alice: Follower = {
  id: new URL("https://a.test/users/alice"),
  inbox: new URL("https://a.test/users/alice/inbox"),
  sharedInbox: new URL("https://a.test/inbox"),
  followId: new URL("https://a.test/follows/1"),
  createdAt: new Date("2026-03-01T00:00:00.000Z"),
};
const bob: Follower = {
  id: new URL("https://a.test/users/bob"),
  inbox: new URL("https://a.test/users/bob/inbox"),
  sharedInbox: new URL("https://a.test/inbox"),
  followId: new URL("https://a.test/follows/3"),
  createdAt: new Date("2026-03-02T00:00:00.000Z"),
};
const carol: Follower = {
  id: new URL("https://c.test/carol"),
  inbox: new URL("https://c.test/carol/inbox"),
  followId: new URL("https://c.test/carol/follows/9"),
  createdAt: new Date("2026-03-03T00:00:00.000Z"),
};
