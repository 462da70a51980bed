import { type KvKey, type KvStore, MemoryKvStore } from "@fedify/fedify";
import { describe, expect, it } from "vitest";
import { cacheDeliveryState } from "../../../src/federation/delivery/kv-cache.ts";

/** A memory store counting the calls that reach it. */
function countingStore() {
  const store = new MemoryKvStore();
  const calls: string[] = [];
  const kv: KvStore = {
    get: (key) => {
      calls.push(`get ${key.join("/")}`);
      return store.get(key);
    },
    set: (key, value, options) => {
      calls.push(`set ${key.join("/")}`);
      return store.set(key, value, options);
    },
    delete: (key) => {
      calls.push(`delete ${key.join("/")}`);
      return store.delete(key);
    },
    cas: (key, expected, value, options) => {
      calls.push(`cas ${key.join("/")}`);
      return store.cas(key, expected, value, options);
    },
    list: (prefix) => store.list(prefix),
  };
  return { store, kv, calls };
}

const spec: KvKey = ["_fedify", "httpMessageSignaturesSpec", "https://a.test"];
const circuit: KvKey = ["_fedify", "circuit", "a.test"];

describe("cacheDeliveryState()", () => {
  it("reads a spec record once and skips writing it again unchanged", async () => {
    const { store, kv, calls } = countingStore();
    const cached = cacheDeliveryState(kv);
    expect(await cached.get(spec)).toBeUndefined();
    await cached.set(spec, "draft-cavage-http-signatures-12");
    expect(await cached.get(spec)).toBe("draft-cavage-http-signatures-12");
    await cached.set(spec, "draft-cavage-http-signatures-12");
    await cached.set(spec, "rfc9421");
    expect(await cached.get(spec)).toBe("rfc9421");
    expect(await store.get(spec)).toBe("rfc9421");
    expect(calls).toEqual([
      `get ${spec.join("/")}`,
      `set ${spec.join("/")}`,
      `set ${spec.join("/")}`,
    ]);
  });

  it("reuses a circuit state for its maximum age, writes every change through and rereads after a failed swap", async () => {
    const { store, kv, calls } = countingStore();
    let now = 1_000_000;
    const cached = cacheDeliveryState(kv, { circuitMaxAgeMs: 1_000, now: () => now });
    const reads = () => calls.filter((c) => c.startsWith("get")).length;
    expect(await cached.get(circuit)).toBeUndefined();
    expect(await cached.get(circuit)).toBeUndefined();
    expect(reads()).toBe(1);
    now += 1_001;
    await cached.get(circuit);
    expect(reads()).toBe(2);
    // A swap goes to the store, and its result is what the next read answers.
    const open = { state: "open", failures: [] };
    expect(await cached.cas?.(circuit, undefined, open)).toBe(true);
    expect(await store.get(circuit)).toEqual(open);
    expect(await cached.get(circuit)).toEqual(open);
    expect(reads()).toBe(2);
    // Another process closes the circuit: a swap from our stale state fails, and we read again.
    await store.delete(circuit);
    expect(await cached.cas?.(circuit, open, { state: "half-open", failures: [] })).toBe(false);
    expect(await cached.get(circuit)).toBeUndefined();
    expect(reads()).toBe(3);
    await cached.delete(circuit);
    expect(calls.at(-1)).toBe(`delete ${circuit.join("/")}`);
  });

  it("reads every circuit state at once, then knows a host without one until its maximum age", async () => {
    const { store, kv, calls } = countingStore();
    let now = 1_000_000;
    const cached = cacheDeliveryState(kv, { circuitMaxAgeMs: 1_000, now: () => now });
    const other: KvKey = ["_fedify", "circuit", "b.test"];
    const failing = { state: "closed", failures: ["2026-12-07T00:00:00Z"] };
    await store.set(other, failing);
    await cached.readCircuits();
    expect(await cached.get(circuit)).toBeUndefined();
    expect(await cached.get(other)).toEqual(failing);
    expect(calls).toEqual([]);
    // Past the maximum age, each is read from the store again.
    now += 1_001;
    expect(await cached.get(circuit)).toBeUndefined();
    expect(calls).toEqual([`get ${circuit.join("/")}`]);
    // A write of any circuit state ends what the read knew: a third host is read again.
    const third: KvKey = ["_fedify", "circuit", "c.test"];
    await cached.readCircuits();
    await cached.set(other, { state: "open", failures: [] });
    expect(await cached.get(third)).toBeUndefined();
    expect(calls.slice(1)).toEqual([`set ${other.join("/")}`, `get ${third.join("/")}`]);
  });

  it("passes every other key straight through", async () => {
    const { kv, calls } = countingStore();
    const cached = cacheDeliveryState(kv);
    const other: KvKey = ["_fedify", "activityIdempotence", "x"];
    await cached.set(other, true);
    expect(await cached.get(other)).toBe(true);
    expect(await cached.get(other)).toBe(true);
    expect(calls).toEqual([
      "set _fedify/activityIdempotence/x",
      ...Array(2).fill("get _fedify/activityIdempotence/x"),
    ]);
  });

  it("forgets the oldest record beyond its maximum", async () => {
    const { kv, calls } = countingStore();
    const cached = cacheDeliveryState(kv, { maxEntries: 2 });
    const key = (n: number): KvKey => ["_fedify", "httpMessageSignaturesSpec", `https://${n}.test`];
    for (const n of [1, 2, 3, 3, 2, 1]) await cached.get(key(n));
    expect(calls).toEqual([1, 2, 3, 1].map((n) => `get ${key(n).join("/")}`));
  });
});
