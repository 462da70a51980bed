import { setTimeout as sleep } from "node:timers/promises";
import type { KvKey, KvStore } from "@fedify/fedify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { milliseconds } from "../federation/duration.ts";

/** One connection to the store under test. */
export interface KvConnection {
  readonly kv: KvStore;
  close(): void | Promise<void>;
}

/** A fresh, empty store; every `connect()` opens another connection to the same data. */
export interface KvFixture {
  connect(): Promise<KvConnection>;
  dispose(): Promise<void>;
}

async function listAll(kv: KvStore, prefix?: KvKey) {
  const entries = [];
  for await (const entry of kv.list(prefix)) entries.push(entry);
  return entries;
}

/**
 * The behaviour Herald (and Fedify) rely on from a KvStore, run over every implementation.
 * `createFixture` is called once per test.
 */
export function kvContract(name: string, createFixture: () => Promise<KvFixture>): void {
  describe(`${name} (KvStore contract)`, () => {
    let fixture: KvFixture;
    let open: KvConnection[];
    let kv: KvStore;

    async function connect(): Promise<KvConnection> {
      const connection = await fixture.connect();
      open.push(connection);
      return connection;
    }

    beforeEach(async () => {
      fixture = await createFixture();
      open = [];
      kv = (await connect()).kv;
    });

    afterEach(async () => {
      for (const connection of open) await connection.close();
      await fixture.dispose();
    });

    describe("get(), set(), delete()", () => {
      it("returns undefined for a key never set", async () => {
        expect(await kv.get(["missing"])).toBeUndefined();
      });

      it("round-trips JSON values", async () => {
        const values: unknown[] = ["text", 42, 0, false, null, [1, "two"], { a: { b: [true] } }];
        for (const [i, value] of values.entries()) await kv.set(["v", String(i)], value);
        for (const [i, value] of values.entries()) {
          expect(await kv.get(["v", String(i)])).toEqual(value);
        }
      });

      it("tells keys apart element by element", async () => {
        await kv.set(["a", "b"], "a/b");
        await kv.set(["a,b"], "a,b");
        await kv.set(["a"], "a");
        expect(await kv.get(["a", "b"])).toBe("a/b");
        expect(await kv.get(["a,b"])).toBe("a,b");
        expect(await kv.get(["a"])).toBe("a");
        expect(await kv.get(["a", "b", "c"])).toBeUndefined();
        expect(await kv.get(["A", "b"])).toBeUndefined();
      });

      it("overwrites a value", async () => {
        await kv.set(["k"], 1);
        await kv.set(["k"], 2);
        expect(await kv.get(["k"])).toBe(2);
      });

      it("deletes a value, and deleting a missing key is no error", async () => {
        await kv.set(["k"], 1);
        await kv.delete(["k"]);
        await kv.delete(["never"]);
        expect(await kv.get(["k"])).toBeUndefined();
      });

      it("treats setting undefined as deleting", async () => {
        await kv.set(["k"], 1);
        await kv.set(["k"], undefined);
        expect(await kv.get(["k"])).toBeUndefined();
        expect(await listAll(kv)).toEqual([]);
      });
    });

    describe("TTL", () => {
      it("hides an entry once its TTL has passed", async () => {
        await kv.set(["short"], "soon gone", { ttl: milliseconds(150) });
        await kv.set(["long"], "stays");
        expect(await kv.get(["short"])).toBe("soon gone");
        await sleep(200);
        expect(await kv.get(["short"])).toBeUndefined();
        expect(await listAll(kv)).toEqual([{ key: ["long"], value: "stays" }]);
      });

      it("treats a TTL of zero as already expired", async () => {
        await kv.set(["zero"], 1, { ttl: milliseconds(0) });
        await sleep(5);
        expect(await kv.get(["zero"])).toBeUndefined();
      });

      it("drops the TTL when a value is set again without one", async () => {
        await kv.set(["k"], 1, { ttl: milliseconds(100) });
        await kv.set(["k"], 2);
        await sleep(150);
        expect(await kv.get(["k"])).toBe(2);
      });
    });

    describe("list()", () => {
      it("yields the prefix itself and every key under it, ordered by key elements", async () => {
        await kv.set(["p", "b"], "b");
        await kv.set(["p", "a", "z"], "a/z");
        await kv.set(["p"], "p");
        await kv.set(["p", "a"], "a");
        await kv.set(["p", "a!"], "a!");
        await kv.set(["p2"], "sibling");
        await kv.set(["q", "p"], "other");
        expect(await listAll(kv, ["p"])).toEqual([
          { key: ["p"], value: "p" },
          { key: ["p", "a"], value: "a" },
          { key: ["p", "a", "z"], value: "a/z" },
          { key: ["p", "a!"], value: "a!" },
          { key: ["p", "b"], value: "b" },
        ]);
      });

      it("matches a prefix exactly: case, quotes, commas and LIKE wildcards", async () => {
        const keys: KvKey[] = [
          ["Host", "x"],
          ["host", "x"],
          ['ho"st', "x"],
          ["ho,st", "x"],
          ["h%", "x"],
          ["h_st", "x"],
          ["hxst", "x"],
        ];
        for (const key of keys) await kv.set(key, key.join("/"));
        for (const key of keys) {
          const found = await listAll(kv, [key[0]]);
          expect(found.map((entry) => entry.key)).toEqual([key]);
        }
      });

      it("matches a multi-element prefix", async () => {
        await kv.set(["a", "b", "c"], 1);
        await kv.set(["a", "bc"], 2);
        await kv.set(["a", "b"], 3);
        expect((await listAll(kv, ["a", "b"])).map((e) => e.key)).toEqual([
          ["a", "b"],
          ["a", "b", "c"],
        ]);
      });

      it("yields everything without a prefix, and nothing for an unknown one", async () => {
        await kv.set(["x"], 1);
        await kv.set(["y", "z"], 2);
        expect(await listAll(kv)).toEqual([
          { key: ["x"], value: 1 },
          { key: ["y", "z"], value: 2 },
        ]);
        expect(await listAll(kv, ["nope"])).toEqual([]);
      });

      it("lets the caller write while iterating", async () => {
        for (const id of ["1", "2", "3"]) await kv.set(["n", id], Number(id));
        for await (const { key, value } of kv.list(["n"])) {
          await kv.set(key, (value as number) * 10);
          await kv.set(["n", `${key[1]}-copy`], 0);
        }
        expect(await kv.get(["n", "3"])).toBe(30);
      });
    });

    describe("cas()", () => {
      it("swaps when the current value equals the expected one, and not otherwise", async () => {
        await kv.set(["k"], "old");
        expect(await kv.cas?.(["k"], "other", "new")).toBe(false);
        expect(await kv.get(["k"])).toBe("old");
        expect(await kv.cas?.(["k"], "old", "new")).toBe(true);
        expect(await kv.get(["k"])).toBe("new");
      });

      it("compares objects deeply, whatever the order of their fields", async () => {
        await kv.set(["k"], { a: 1, b: [1, 2] });
        expect(await kv.cas?.(["k"], { b: [1, 2], a: 1 }, { a: 2 })).toBe(true);
        expect(await kv.cas?.(["k"], { a: 1 }, { a: 3 })).toBe(false);
        expect(await kv.get(["k"])).toEqual({ a: 2 });
      });

      it("treats an expected undefined as 'absent'", async () => {
        expect(await kv.cas?.(["k"], undefined, 1)).toBe(true);
        expect(await kv.cas?.(["k"], undefined, 2)).toBe(false);
        expect(await kv.get(["k"])).toBe(1);
      });

      it("deletes when the new value is undefined (how Fedify consumes a nonce)", async () => {
        await kv.set(["nonce"], true);
        expect(await kv.cas?.(["nonce"], true, undefined)).toBe(true);
        expect(await kv.get(["nonce"])).toBeUndefined();
        expect(await kv.cas?.(["nonce"], true, undefined)).toBe(false);
      });

      it("sees an expired entry as absent and sets a TTL on the new value", async () => {
        await kv.set(["k"], "stale", { ttl: milliseconds(50) });
        await sleep(80);
        expect(await kv.cas?.(["k"], "stale", "x")).toBe(false);
        expect(await kv.cas?.(["k"], undefined, "fresh", { ttl: milliseconds(100) })).toBe(true);
        expect(await kv.get(["k"])).toBe("fresh");
        await sleep(150);
        expect(await kv.get(["k"])).toBeUndefined();
      });

      it("loses no update when two connections increment one counter", async () => {
        const other = (await connect()).kv;
        await kv.set(["counter"], 0);
        let conflicts = 0;
        async function increment(store: KvStore, times: number): Promise<void> {
          for (let done = 0; done < times; ) {
            const current = (await store.get<number>(["counter"])) ?? 0;
            await sleep(0); // let the other writer in between the read and the swap
            if (await store.cas?.(["counter"], current, current + 1)) done++;
            else conflicts++;
          }
        }
        await Promise.all([increment(kv, 50), increment(other, 50)]);
        expect(await kv.get(["counter"])).toBe(100);
        expect(conflicts).toBeGreaterThan(0);
      });
    });

    it("keeps entries across a reconnect", async () => {
      const first = await connect();
      await first.kv.set(["durable", "a"], { kept: true });
      await first.kv.set(["durable", "b"], "short", { ttl: milliseconds(50) });
      await first.close();
      open.splice(open.indexOf(first), 1);
      await sleep(80);
      const second = await connect();
      expect(await second.kv.get(["durable", "a"])).toEqual({ kept: true });
      expect(await listAll(second.kv, ["durable"])).toEqual([
        { key: ["durable", "a"], value: { kept: true } },
      ]);
    });
  });
}
