/**
 * The site's built bodies, kept by key within bounds of count and bytes (see `PageCache`).
 */
import { RecentMap } from "../recent-map.ts";
import type { Representation } from "./representation.ts";

/** One body, or a set of them built together (the three feeds of a set). */
export type Cached = Representation | Readonly<Record<string, Representation>>;

function bytesOf(value: Cached): number {
  const reps = "identity" in value ? [value as Representation] : Object.values(value);
  return reps.reduce(
    (sum: number, rep: Representation) =>
      sum + rep.identity.body.length + (rep.gzip?.body.length ?? 0) + (rep.br?.body.length ?? 0),
    0,
  );
}

/**
 * Built bodies by key, most recently used last; the oldest go when there are more than
 * `entries` or they take more than `bytes`. Only what exists is kept: a build that finds
 * nothing (a 404) or fails is forgotten, so requests for unknown tags never push out a page.
 * Requests for a key being built wait for that one build.
 *
 * `version` says which state of its inputs a body shows (when interactions last changed): asked
 * for another version, the body is built again, once for all who ask meanwhile. `clear()`
 * drops everything; `drop()` what an article change made stale (`site-changes.ts`).
 */
export class PageCache {
  readonly #kept: RecentMap<string, { value: Cached; version: number; bytes: number }>;
  readonly #building = new Map<string, Promise<Cached | undefined>>();
  /** Bumped by `clear()`: a build started before may not keep its (stale) body. */
  #generation = 0;

  constructor(limits: { entries: number; bytes: number }) {
    this.#kept = new RecentMap({
      entries: limits.entries,
      weight: limits.bytes,
      weigh: (kept) => kept.bytes,
    });
  }

  get<T extends Cached | undefined>(
    key: string,
    version: number,
    build: () => Promise<T>,
  ): Promise<T> {
    const kept = this.#kept.get(key);
    if (kept === undefined || kept.version !== version) return this.#build(key, version, build);
    return Promise.resolve(kept.value as T);
  }

  /**
   * Drops the bodies whose key `stale` names, for a change that leaves the others as they are.
   * Builds under way may have read the old state: none of them is kept.
   */
  drop(stale: (key: string) => boolean): void {
    this.#generation++;
    this.#building.clear();
    for (const key of this.#kept.keys()) if (stale(key)) this.#kept.delete(key);
  }

  clear(): void {
    this.#generation++;
    this.#kept.clear();
    this.#building.clear();
  }

  #build<T extends Cached | undefined>(
    key: string,
    version: number,
    build: () => Promise<T>,
  ): Promise<T> {
    const running = this.#building.get(key);
    if (running !== undefined) return running as Promise<T>;
    const generation = this.#generation;
    const built = build()
      .then((value) => {
        if (generation === this.#generation) this.#keep(key, version, value);
        return value;
      })
      .finally(() => {
        if (this.#building.get(key) === built) this.#building.delete(key);
      });
    this.#building.set(key, built);
    return built;
  }

  #keep(key: string, version: number, value: Cached | undefined): void {
    if (value === undefined) this.#kept.delete(key);
    else this.#kept.set(key, { value, version, bytes: bytesOf(value) });
  }
}
