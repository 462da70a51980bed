import { buildCollectionSynchronizationHeader } from "@fedify/fedify";
import { describe, expect, it } from "vitest";
import {
  collectionSyncHeader,
  rememberingSyncHeaders,
} from "../../../src/federation/delivery/collection-sync.ts";

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

describe("rememberingSyncHeaders", () => {
  const alice = "https://a.example/users/alice";
  const bob = "https://a.example/users/bob";
  const carol = "https://b.example/users/carol";

  /** `rememberingSyncHeaders(budget)` over a `collectionSyncHeader` that counts its calls. */
  function counted(budget?: number) {
    const calls: string[][] = [];
    const header = rememberingSyncHeaders(budget, (collectionId, actorIds) => {
      calls.push([...actorIds]);
      return collectionSyncHeader(collectionId, actorIds);
    });
    return { header, calls };
  }

  it("gives the header collectionSyncHeader gives, making each once", () => {
    const { header, calls } = counted();
    for (let round = 0; round < 3; round++) {
      expect(header(collection, [alice, bob])).toBe(collectionSyncHeader(collection, [alice, bob]));
      expect(header(collection, [carol])).toBe(collectionSyncHeader(collection, [carol]));
    }
    expect(calls).toEqual([[alice, bob], [carol]]);
  });

  it("makes a new header once the followers behind a server change", () => {
    const { header, calls } = counted();
    const before = header(collection, [alice, bob]);
    const after = header(collection, [alice]);
    expect(after).not.toBe(before);
    expect(after).toBe(collectionSyncHeader(collection, [alice]));
    expect(header(collection, [alice, bob, carol])).toBe(
      collectionSyncHeader(collection, [alice, bob, carol]),
    );
    expect(calls).toHaveLength(3);
  });

  it("keeps the newest headers within its budget, dropping the oldest", () => {
    const ids = Array.from({ length: 10 }, (_, i) => `https://s${i}.example/users/u`);
    const keyLength = `${collection}\n${ids[0]}`.length;
    // Room for three keys.
    const { header, calls } = counted(keyLength * 3 + 1);
    for (const id of ids) header(collection, [id]);
    expect(calls).toHaveLength(10);
    for (const id of ids.slice(-3)) header(collection, [id]);
    expect(calls).toHaveLength(10);
    header(collection, [ids[0] as string]);
    expect(calls).toHaveLength(11);
    // A key larger than the whole budget is made each time and kept out.
    const { header: tiny, calls: tinyCalls } = counted(10);
    tiny(collection, [alice]);
    tiny(collection, [alice]);
    expect(tinyCalls).toHaveLength(2);
  });
});
