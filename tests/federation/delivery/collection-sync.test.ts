import { DatabaseSync } from "node:sqlite";
import { buildCollectionSynchronizationHeader } from "@fedify/fedify";
import { describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";
import { syncHeader } from "../../../src/federation/delivery/collection-sync.ts";
import { collectionSyncHeader, followersDigest } from "../../helpers/follower-digests.ts";

const collection = "https://news.test/users/news/followers";

describe("collectionSyncHeader", () => {
  it("is the header Fedify builds, for one follower and for several with a duplicate", async () => {
    const one = ["https://a.example/users/alice"];
    const several = [
      "https://a.example/users/alice",
      "https://a.example/users/bob",
      "https://a.example/users/alice",
      "https://a.example/users/%C3%A9milie",
    ];
    for (const ids of [one, several]) {
      expect(collectionSyncHeader(collection, ids)).toBe(
        await buildCollectionSynchronizationHeader(collection, ids),
      );
    }
  });

  it("digests the set of followers, not their order", () => {
    const ids = ["https://a.example/users/alice", "https://a.example/users/bob"];
    const header = collectionSyncHeader(collection, ids);
    expect(header).toBe(collectionSyncHeader(collection, [...ids].reverse()));
    expect(header).not.toBe(collectionSyncHeader(collection, ids.slice(0, 1)));
    expect(followersDigest(ids)).toBe(followersDigest([...ids].reverse()));
    expect(header).toContain(
      'url="https://news.test/users/news/followers?base-url=https%3A%2F%2Fa.example%2F"',
    );
  });
});

describe("syncHeader", () => {
  it("with a server's digest as the follower store keeps it, is the header Fedify builds for its followers", async () => {
    const followers = openSqliteFollowerStore(new DatabaseSync(":memory:"));
    const ids = ["alice", "bob", "carol", "%C3%A9milie"].map((name) => `https://a.example/${name}`);
    for (const [i, id] of ids.entries()) {
      await followers.add({
        id: new URL(id),
        inbox: new URL(`${id}/inbox`),
        sharedInbox: new URL("https://a.example/inbox"),
        followId: new URL(`https://a.example/follows/${i}`),
        createdAt: new Date("2026-03-01T00:00:00.000Z"),
      });
    }
    await followers.removeByActor(new URL("https://a.example/carol"));
    const left = ids.filter((id) => !id.endsWith("carol"));
    const digest = (await followers.syncDigests(["https://a.example"])).get("https://a.example");
    expect(syncHeader(collection, "https://a.example", digest ?? "")).toBe(
      await buildCollectionSynchronizationHeader(collection, left),
    );
  });
});
