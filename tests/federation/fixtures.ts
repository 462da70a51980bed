/**
 * Fixed inputs for the federation tests: change events, and an in-memory article store (the
 * part the federation reads) so the federation is tested on its own. Articles come from the
 * one article fixture, `makeArticle()` in tests/helpers/article-fixture.ts.
 */
import { generateCryptoKeyPair } from "@fedify/fedify";
import type { Article, ChangeEvent } from "../../src/article.ts";
import type { PublishedArticles } from "../../src/federation/articles.ts";
import type { AccountKeys } from "../../src/federation/keys.ts";
import type { ArticleRecord, ArticleState, ListOptions } from "../../src/store/store.ts";
import { PUBLISHED } from "../helpers/article-fixture.ts";

export const ORIGIN = new URL("https://news.test");
export { EDITED, PUBLISHED } from "../helpers/article-fixture.ts";

export function created(article: Article, seq: number, at: Date = article.published): ChangeEvent {
  return { type: "created", article, seq, at };
}

export function updated(article: Article, seq: number, at: Date): ChangeEvent {
  return { type: "updated", article, seq, at };
}

export function deleted(article: Article, seq: number, at: Date): ChangeEvent {
  return { type: "deleted", article, seq, at };
}

/** Articles by state; `findById("explode")` throws, for error-path tests. */
export function memoryArticleStore(
  records: readonly { article: Article; state: ArticleState }[],
): PublishedArticles {
  const all = (): ArticleRecord[] => [...records];
  const published = () =>
    all()
      .filter((record) => record.state === "published")
      .map((record) => record.article)
      .sort((a, b) => b.published.getTime() - a.published.getTime());
  return {
    listPublished: async (options: ListOptions = {}) =>
      published()
        .filter((article) => options.tag == null || article.tags.includes(options.tag))
        .slice(0, options.limit ?? Number.POSITIVE_INFINITY),
    countPublished: async () => published().length,
    findBySlug: async (slug) => all().find((record) => record.article.slug === slug),
    findById: async (id) => {
      if (id === "explode") throw new Error("The store is down.");
      return all().find((record) => record.article.id === id);
    },
  };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Fresh key pairs of the account, as `loadOrCreateKeys()` gives them, created at PUBLISHED. */
export async function accountKeys(): Promise<AccountKeys> {
  return {
    rsa: await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
    ed25519: await generateCryptoKeyPair("Ed25519"),
    createdAt: PUBLISHED,
  };
}
