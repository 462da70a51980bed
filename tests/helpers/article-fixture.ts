import type { Article } from "../../src/article.ts";

export const origin = new URL("https://news.test");
/** When the fixture article was published, and when it was edited. */
export const PUBLISHED = new Date("2026-03-01T10:00:00.000Z");
export const EDITED = new Date("2026-03-02T08:30:00.000Z");

/**
 * The one article fixture: a fresh published article, with text to escape, tags and an image,
 * so that every renderer meets them. Every field can be overridden.
 */
export function makeArticle(overrides: Partial<Article> = {}): Article {
  return {
    id: "0b7e8f2c-4d6a-4c1e-9a53-2f1d8c7b6a01",
    path: "2026/hello-world.md",
    slug: "hello-world",
    title: "Hello, <world>",
    summary: "The first story of Herald.",
    contentHtml: "<p>Grüße aus der <em>Redaktion</em>.</p>",
    language: "de",
    tags: ["news", "world"],
    image: { src: "images/cover.jpg", alt: "A newsroom at dawn" },
    pinned: false,
    published: PUBLISHED,
    updated: PUBLISHED,
    hash: "h1",
    ...overrides,
  };
}
