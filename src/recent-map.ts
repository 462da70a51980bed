/**
 * A `Map` bounded by what was used last: reading or writing an entry makes it the newest, and
 * the oldest are forgotten once there are more than `entries` of them, or once their weights
 * (`weigh`, none by default) add up to more than `weight`. The entry just written is kept even
 * when it alone weighs more. Shared by the site's built bodies (`http/page-cache.ts`), the
 * delivery records cached in front of the KV store (`federation/delivery/kv-cache.ts`) and the
 * fan-outs whose first round was reported (`federation/delivery/tracking.ts`).
 */
export interface RecentMapLimits<V> {
  readonly entries: number;
  /** The most that the entries' weights may add up to; no limit by default. */
  readonly weight?: number;
  /** An entry's weight (its bytes, say); 0 by default. */
  readonly weigh?: (value: V) => number;
}

export class RecentMap<K, V> {
  readonly #map = new Map<K, V>();
  readonly #entries: number;
  readonly #weight: number;
  readonly #weigh: (value: V) => number;
  #total = 0;

  constructor(limits: RecentMapLimits<V>) {
    this.#entries = limits.entries;
    this.#weight = limits.weight ?? Infinity;
    this.#weigh = limits.weigh ?? (() => 0);
  }

  get size(): number {
    return this.#map.size;
  }

  /** The entry of `key`, now the newest. */
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  /** Whether `key` has an entry, leaving its place as it is. */
  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Keeps `value` as the newest entry, forgetting the oldest beyond the limits. */
  set(key: K, value: V): this {
    this.delete(key);
    this.#map.set(key, value);
    this.#total += this.#weigh(value);
    for (const oldest of this.#map.keys()) {
      if (oldest === key || (this.#map.size <= this.#entries && this.#total <= this.#weight)) break;
      this.delete(oldest);
    }
    return this;
  }

  delete(key: K): boolean {
    const value = this.#map.get(key);
    if (value === undefined) return false;
    this.#map.delete(key);
    this.#total -= this.#weigh(value);
    return true;
  }

  clear(): void {
    this.#map.clear();
    this.#total = 0;
  }

  /** The keys, oldest first (a copy: entries may be deleted meanwhile). */
  keys(): K[] {
    return [...this.#map.keys()];
  }
}
