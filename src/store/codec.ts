import type { Article } from "../article.ts";

/** An Article as JSON text (dates as ISO strings), for SQL columns and event payloads. */
export function encodeArticle(article: Article): string {
  return JSON.stringify(article);
}

export function decodeArticle(json: string): Article {
  const raw = JSON.parse(json) as Omit<Article, "published" | "updated"> & {
    published: string;
    updated: string;
  };
  return { ...raw, published: new Date(raw.published), updated: new Date(raw.updated) };
}
