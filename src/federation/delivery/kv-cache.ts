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
 *
 * Every other key goes straight through.
 */
import { isDeepStrictEqual } from "node:util";
import type { KvKey, KvStore, KvStoreSetOptions } from "@fedify/fedify";
import { toMilliseconds } from "../../backends/duration.ts";

export interface DeliveryKvCacheOptions {
  /** How long a circuit state read is reused (ms); 1,000 by default. */
  readonly circuitMaxAgeMs?: number;
  /** Records kept at most (the oldest are forgotten first); 100,000 by default. */
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

export function cacheDeliveryState(kv: KvStore, options: DeliveryKvCacheOptions = {}): KvStore {
  const circuitMaxAgeMs = options.circuitMaxAgeMs ?? 1_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  /**
   * Counts writes of cached keys, at their start and their end: a read that overlapped one may
   * have read the value before it, and is not kept.
   */
  let writes = 0;

  /** How long a record of `key` is kept, or undefined for a key not cached. */
  const maxAgeOf = (key: KvKey): number | undefined => {
    if (key.length !== 3 || key[0] !== "_fedify") return undefined;
    if (key[1] === SPEC) return Infinity;
    if (key[1] === CIRCUIT) return circuitMaxAgeMs;
    return undefined;
  };
  const remember = (
    name: string,
    maxAge: number,
    value: unknown,
    setOptions?: KvStoreSetOptions,
  ) => {
    const ttl = setOptions?.ttl == null ? Infinity : toMilliseconds(setOptions.ttl);
    entries.delete(name); // re-inserted last: the Map's order is the order of use
    if (entries.size >= maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
    entries.set(name, { value, until: now() + Math.min(maxAge, ttl) });
  };
  const fresh = (name: string): Entry | undefined => {
    const entry = entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.until > now()) return entry;
    entries.delete(name);
    return undefined;
  };
  /** Runs a write of `name`'s record, forgetting it first and counting it (see `writes`). */
  const writing = async <T>(name: string, write: () => Promise<T>): Promise<T> => {
    entries.delete(name);
    writes++;
    try {
      return await write();
    } finally {
      writes++;
    }
  };

  const cached: KvStore = {
    async get<T>(key: KvKey): Promise<T | undefined> {
      const maxAge = maxAgeOf(key);
      if (maxAge === undefined) return await kv.get<T>(key);
      const name = JSON.stringify(key);
      const entry = fresh(name);
      if (entry !== undefined) return entry.value as T | undefined;
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
      if (key[1] === SPEC && setOptions?.ttl == null && entry !== undefined) {
        if (isDeepStrictEqual(entry.value, value)) return;
      }
      await writing(name, () => kv.set(key, value, setOptions));
      remember(name, maxAge, value, setOptions);
    },
    async delete(key) {
      await writing(JSON.stringify(key), () => kv.delete(key));
    },
    list: (prefix) => kv.list(prefix),
  };
  if (kv.cas !== undefined) {
    const cas = kv.cas.bind(kv);
    cached.cas = async (key, expectedValue, newValue, setOptions) => {
      const maxAge = maxAgeOf(key);
      if (maxAge === undefined) return await cas(key, expectedValue, newValue, setOptions);
      const name = JSON.stringify(key);
      const swapped = await writing(name, () => cas(key, expectedValue, newValue, setOptions));
      if (swapped) remember(name, maxAge, newValue, setOptions);
      return swapped;
    };
  }
  return cached;
}
