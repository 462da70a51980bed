import { buildCollectionSynchronizationHeader } from "@fedify/fedify";
import { describe, expect, it } from "vitest";
import { collectionSyncHeader } from "../../../src/federation/delivery/collection-sync.ts";

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
    expect(header).toContain(
      'url="https://news.test/users/news/followers?base-url=https%3A%2F%2Fa.example%2F"',
    );
  });
});
