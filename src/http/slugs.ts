import type { ArticleRecord, ArticleStore } from "../store/store.ts";

type KnownSlug =
  | { readonly state: "published"; readonly id: string; readonly hash: string }
  | { readonly state: Exclude<ArticleRecord["state"], "published"> };

/**
 * What each slug asked for is, until the next change (`clear()`): an article page's request
 * then reads nothing from the store, only the page built for it. Slugs the store does not know
 * are not kept, so made-up ones fill nothing; at most `limit` are.
 */
export class SlugIndex {
  readonly #store: ArticleStore;
  readonly #known = new Map<string, Promise<KnownSlug | undefined>>();
  readonly #limit: number;

  constructor(store: ArticleStore, limit = 100_000) {
    this.#store = store;
    this.#limit = limit;
  }

  find(slug: string): Promise<KnownSlug | undefined> {
    const kept = this.#known.get(slug);
    if (kept !== undefined) return kept;
    if (this.#known.size >= this.#limit) this.#known.clear();
    // Kept before it resolves, so a `clear()` meanwhile drops it: no stale answer stays.
    const found = this.#store.findBySlug(slug).then((record): KnownSlug | undefined => {
      if (record === undefined) return undefined;
      const { state, article } = record;
      return state === "published" ? { state, id: article.id, hash: article.hash } : { state };
    });
    this.#known.set(slug, found);
    const forget = () => {
      if (this.#known.get(slug) === found) this.#known.delete(slug);
    };
    found.then((known) => known === undefined && forget(), forget);
    return found;
  }

  clear(): void {
    this.#known.clear();
  }
}
