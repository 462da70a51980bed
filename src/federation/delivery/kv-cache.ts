/**
 * An in-process cache in front of the KV store for the two records Fedify 2.3.6 reads on every
 * delivery: the remote host's circuit-breaker state (read before sending and again after) and
 * the signature spec the remote origin accepted (read before signing, and written again after
 * every delivery, unchanged: `KvSpecDeterminer` in @fedify/fedify's dist/middleware-*.js). A
 * fan-out to 10,000 servers made 40,000 store round trips for them, one of them a write.
 *
 * - Spec records: read through and kept (a bounded number); writing the value already there is
 *   skipped. Another process learning another spec leaves ours stale, which costs at worst one
 *   refused knock, after which Fedify tries the other spec and records it.
 * - Circuit states: read through and kept `circuitMaxAgeMs` (1 s by default), enough for the
 *   read after a delivery to reuse the one before it. Every write goes to the store as before
 *   (compare-and-swap included, so a state another process changed meanwhile makes Fedify's
 *   swap fail and read again: a failed swap drops the cached entry).
 * - `readCircuits()` reads every circuit state in one query; for `circuitMaxAgeMs` after it, a
 *   host without one is known to have none too. A fan-out slice asks about each of its servers
 *   (1,000), almost none of which has a record: one query instead of one each
 *   (`deliver-now.ts`). A write of a circuit state ends that early.
 *
 * Every other key goes straight through.
 */
import { isDeepStrictEqual } from "node:util";
import type { KvKey, KvStore, KvStoreSetOptions } from "@fedify/fedify";
import { toMilliseconds } from "../../backends/duration.ts";
import { RecentMap } from "../../recent-map.ts";

export interface DeliveryKvCacheOptions {
  /** How long a circuit state read is reused (ms); 1,000 by default. */
  readonly circuitMaxAgeMs?: number;
  /** Records kept at most (the least recently used are forgotten first); 100,000 by default. */
  readonly maxEntries?: number;
  /** The clock (ms), for tests. */
  readonly now?: () => number;
}

interface Entry {
  readonly value: unknown;
  /** Milliseconds since the epoch after which the entry is read from the store again. */
  readonly until: number;
}

/** Fedify's default `kvPrefixes` (Herald does not change them). */
const CIRCUIT = "circuit";
const SPEC = "httpMessageSignaturesSpec";

/** Where Fedify keeps a remote host's circuit-breaker state (`URL.host`). */
export function circuitKey(host: string): KvKey {
  return ["_fedify", CIRCUIT, host];
}

/** Where Fedify keeps the signature spec a remote origin accepted (`URL.origin`). */
export function specKey(origin: string): KvKey {
  return ["_fedify", SPEC, origin];
}

/** The cache: a `KvStore`, and a way to read every circuit state at once. */
export interface DeliveryKvCache extends KvStore {
  /** Reads every circuit-breaker state at once (see above). */
  readCircuits(): Promise<void>;
}

function isCircuit(key: KvKey): boolean {
  return key.length === 3 && key[0] === "_fedify" && key[1] === CIRCUIT;
}

function isSpec(key: KvKey): boolean {
  return key.length === 3 && key[0] === "_fedify" && key[1] === SPEC;
}

export function cacheDeliveryState(
  kv: KvStore,
  options: DeliveryKvCacheOptions = {},
): DeliveryKvCache {
  const circuitMaxAgeMs = options.circuitMaxAgeMs ?? 1_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new RecentMap<string, Entry>({ entries: maxEntries });
  /** Until when a circuit state not in `entries` is known not to exist (`readCircuits()`). */
  let circuitsReadUntil = 0;
  /**
   * Counts writes of cached keys, at their start and their end: a read that overlapped one may
   * have read the value before it, and is not kept.
   */
  let writes = 0;

  /** How long a record of `key` is kept, or undefined for a key not cached. */
  const maxAgeOf = (key: KvKey): number | undefined => {
    if (isSpec(key)) return Infinity;
    if (isCircuit(key)) return circuitMaxAgeMs;
    return undefined;
  };
  const remember = (
    name: string,
    maxAge: number,
    value: unknown,
    setOptions?: KvStoreSetOptions,
  ) => {
    const ttl = setOptions?.ttl == null ? Infinity : toMilliseconds(setOptions.ttl);
    entries.set(name, { value, until: now() + Math.min(maxAge, ttl) });
  };
  const fresh = (name: string): Entry | undefined => {
    const entry = entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.until > now()) return entry;
    entries.delete(name);
    return undefined;
  };
  /** Runs a write of `key`'s record, forgetting it first and counting it (see `writes`). */
  const writing = async <T>(key: KvKey, write: () => Promise<T>): Promise<T> => {
    entries.delete(JSON.stringify(key));
    if (isCircuit(key)) circuitsReadUntil = 0;
    writes++;
    try {
      return await write();
    } finally {
      writes++;
    }
  };

  const cached: DeliveryKvCache = {
    async get<T>(key: KvKey): Promise<T | undefined> {
      const maxAge = maxAgeOf(key);
      if (maxAge === undefined) return await kv.get<T>(key);
      const name = JSON.stringify(key);
      const entry = fresh(name);
      if (entry !== undefined) return entry.value as T | undefined;
      if (isCircuit(key) && now() < circuitsReadUntil) return undefined;
      const before = writes;
      const value = await kv.get<T>(key);
      if (writes === before) remember(name, maxAge, value);
      return value;
    },
    async set(key, value, setOptions) {
      const maxAge = maxAgeOf(key);
      if (maxAge === undefined) return await kv.set(key, value, setOptions);
      const name = JSON.stringify(key);
      const entry = fresh(name);
      // Writing a spec record again unchanged only renews nothing: skip it.
      if (isSpec(key) && setOptions?.ttl == null && entry !== undefined) {
        if (isDeepStrictEqual(entry.value, value)) return;
      }
      await writing(key, () => kv.set(key, value, setOptions));
      remember(name, maxAge, value, setOptions);
    },
    async delete(key) {
      await writing(key, () => kv.delete(key));
    },
    list: (prefix) => kv.list(prefix),
    async readCircuits() {
      const before = writes;
      const found: { key: KvKey; value: unknown }[] = [];
      for await (const entry of kv.list(["_fedify", CIRCUIT])) found.push(entry);
      // A write overlapped the read: its record may be either; read each as before.
      if (writes !== before) return;
      for (const { key, value } of found) {
        if (isCircuit(key)) remember(JSON.stringify(key), circuitMaxAgeMs, value);
      }
      circuitsReadUntil = now() + circuitMaxAgeMs;
    },
  };
  if (kv.cas !== undefined) {
    const cas = kv.cas.bind(kv);
    cached.cas = async (key, expectedValue, newValue, setOptions) => {
      const maxAge = maxAgeOf(key);
      if (maxAge === undefined) return await cas(key, expectedValue, newValue, setOptions);
      const name = JSON.stringify(key);
      const swapped = await writing(key, () => cas(key, expectedValue, newValue, setOptions));
      if (swapped) remember(name, maxAge, newValue, setOptions);
      return swapped;
    };
  }
  return cached;
}
