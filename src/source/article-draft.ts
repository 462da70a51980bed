import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { ArticleImage, Correction, ParsedArticle, RemovedElement } from "../article.ts";
import { cutAtWord, detectLanguage, slugify } from "./text.ts";

export interface ParseOptions {
  /** For articles whose language is neither given nor detectable. */
  readonly defaultLanguage: string;
  /** The authors file's handles by name (`authors.ts`), for `author: Jane Doe`. */
  readonly authors?: ReadonlyMap<string, string>;
}

/** What a format-specific parser found, before the rules every article shares are applied. */
export interface Draft {
  readonly path: string;
  readonly title?: string | undefined;
  /** A title derived from the text, for when none is given. */
  readonly fallbackTitle: (language: string) => string;
  /**
   * The lead and the body without the derived title at their start, so that a headline taken
   * from the first sentence is not said again (issue #15); `undefined` when they do not start
   * with it (the title was shortened) or nothing would be left.
   */
  readonly withoutTitle?: (title: string) => { lead: string; contentHtml: string } | undefined;
  readonly summary?: string | undefined;
  /** The lead paragraph as plain text. */
  readonly lead: string;
  /** All the text, for language detection. */
  readonly plainText: string;
  readonly contentHtml: string;
  readonly language?: string | undefined;
  readonly tags: readonly string[];
  readonly image?: ArticleImage | undefined;
  readonly author?: string | undefined;
  /** The author's fediverse account, `@jane@example.social` (`author.ts`). */
  readonly authorFediverse?: string | undefined;
  readonly date?: Date | undefined;
  readonly updated?: Date | undefined;
  readonly draft: boolean;
  readonly pinned: boolean;
  readonly corrections?: readonly Correction[];
  readonly slug?: string | undefined;
  /** What the sanitiser took out of the text, with the line of the file it was on. */
  readonly removed?: readonly RemovedElement[];
}

const titleLength = 140;
const summaryLength = 300;

/** Applies the shared rules: language, title, summary (never empty), slug and hash. */
export function finishArticle(draft: Draft, options: ParseOptions): ParsedArticle {
  const language =
    draft.language ??
    detectLanguage(`${draft.title ?? ""}\n${draft.plainText}`) ??
    options.defaultLanguage;
  const title = draft.title ?? cutAtWord(draft.fallbackTitle(language), titleLength);
  const rest = draft.title === undefined ? draft.withoutTitle?.(title) : undefined;
  const lead = rest?.lead ?? draft.lead;
  const contentHtml = rest?.contentHtml ?? draft.contentHtml;
  const summary = draft.summary ?? (lead !== "" ? cutAtWord(lead, summaryLength) : title);
  const fileSlug = slugify(posix.basename(draft.path).replace(/\.[^.]*$/, ""));
  // The front matter's own handle, else the authors file's for the name.
  const authorFediverse =
    draft.authorFediverse ??
    (draft.author === undefined ? undefined : options.authors?.get(draft.author));
  const seen = {
    title,
    summary,
    contentHtml,
    language,
    tags: draft.tags,
    image: draft.image,
    author: draft.author,
    // Only when given: the hash of every article without one stays what it was.
    ...(authorFediverse === undefined ? {} : { authorFediverse }),
    date: draft.date,
    updated: draft.updated,
    draft: draft.draft,
    pinned: draft.pinned,
    // Only when there are any: the hash of every article without one stays what it was.
    ...(draft.corrections?.length ? { corrections: draft.corrections } : {}),
  };
  return {
    ...seen,
    path: draft.path,
    slug: draft.slug ?? (fileSlug || slugify(title) || "article"),
    explicitSlug: draft.slug !== undefined,
    removed: draft.removed ?? [],
    // The slug is left out: a renamed file with the same text is the same article.
    hash: createHash("sha256").update(JSON.stringify(seen)).digest("base64url"),
  };
}
