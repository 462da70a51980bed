import type { ParsedArticle } from "../article.ts";
import type { Skipped } from "../store/store.ts";
import {
  detectionText,
  draftArticle,
  finishArticle,
  isSkipped,
  type ParseOptions,
} from "./article-draft.ts";
import { detectLanguage } from "./language.ts";

export type { ParseOptions } from "./article-draft.ts";

export function isParsed(result: ParsedArticle | Skipped): result is ParsedArticle {
  return "hash" in result;
}

/**
 * Turns one file's bytes into an article, or says why it can't (naming the line where
 * known), all at once on this thread: for the preview of one file. A scan reads its files
 * with `read.ts` instead, which asks for the languages of a batch at once.
 */
export function parseArticle(
  path: string,
  bytes: Uint8Array,
  options: ParseOptions,
): ParsedArticle | Skipped {
  const draft = draftArticle(path, bytes);
  if (isSkipped(draft)) return draft;
  const text = detectionText(draft);
  return finishArticle(draft, options, text === undefined ? undefined : detectLanguage(text));
}
