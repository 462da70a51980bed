import type { Article, Correction } from "../article.ts";

/** An Article as JSON text (dates as ISO strings), for SQL columns and event payloads. */
export function encodeArticle(article: Article): string {
  return JSON.stringify(article);
}

export function decodeArticle(json: string): Article {
  const raw = JSON.parse(json) as Omit<Article, "published" | "updated" | "corrections"> & {
    published: string;
    updated: string;
    corrections?: { text: string; date?: string }[];
  };
  const { corrections, ...rest } = raw;
  return {
    ...rest,
    published: new Date(raw.published),
    updated: new Date(raw.updated),
    ...(corrections === undefined ? {} : { corrections: corrections.map(decodeCorrection) }),
  };
}

function decodeCorrection({ text, date }: { text: string; date?: string }): Correction {
  return date === undefined ? { text } : { text, date: new Date(date) };
}
