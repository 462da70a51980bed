import type { Article } from "../../src/article.ts";

export const origin = new URL("https://news.test");

/** A fresh published article; every field can be overridden. */
export function makeArticle(overrides: Partial<Article> = {}): Article {
  return {
    id: "a1",
    path: "first.md",
    slug: "first",
    title: "First article",
    summary: "A short summary.",
    contentHtml: "<p>The full text of the first article.</p>",
    language: "en",
    tags: [],
    pinned: false,
    published: new Date("2024-05-01T08:00:00Z"),
    updated: new Date("2024-05-01T08:00:00Z"),
    hash: "hash-a1",
    ...overrides,
  };
}
