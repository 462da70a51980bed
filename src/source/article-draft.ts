import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { ArticleImage, Correction, ParsedArticle, RemovedElement } from "../article.ts";
import type { Skipped } from "../store/store.ts";
import { parseMarkdown } from "./markdown.ts";
import { parsePlainText } from "./plaintext.ts";
import { cutAtWord, slugify } from "./text.ts";

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

const articleExtensions = [".md", ".markdown", ".txt"] as const;

/**
 * A long read has a thousand lines. The parser makes several objects of each line of a list or
 * of paragraphs: 1 MiB of one-word list items (260,000 lines) took the process past its heap
 * limit, while 50,000 of them parse in a fraction of it.
 */
const maxLines = 50_000;

/**
 * Turns one file's bytes into a draft, or says why it can't (naming the line where known).
 * Never throws for bad input: one bad file must not fail a scan. What is left, the language
 * and all that depends on it, is `finishArticle`'s: a scan asks for the languages of a batch
 * of drafts at once (`read.ts`), answered by a second thread in a large scan (`reader-thread.ts`).
 */
export function draftArticle(path: string, bytes: Uint8Array): Draft | Skipped {
  const extension = /\.[^./]+$/.exec(path)?.[0].toLowerCase() ?? "";
  if (!(articleExtensions as readonly string[]).includes(extension)) {
    const what = extension === "" ? "a file without extension" : `a ${extension} file`;
    return { path, reason: `${what} is not an article (use .md or .txt)` };
  }
  const decoded = decodeUtf8(bytes);
  if (typeof decoded !== "string") return { path, ...decoded };
  const text = decoded.replace(/^\uFEFF/, "");
  if (text.trim() === "") return { path, reason: "the file is empty" };
  const lines = lineCount(text);
  if (lines > maxLines) {
    const count = lines.toLocaleString("en");
    return { path, reason: `too many lines (${count}; at most 50,000)`, line: maxLines + 1 };
  }
  return extension === ".txt" ? parsePlainText(path, text) : parseMarkdown(path, text);
}

export function isSkipped(result: Draft | ParsedArticle | Skipped): result is Skipped {
  return "reason" in result;
}

/** What to detect the draft's language from, or `undefined` when the draft gives its language. */
export function detectionText(draft: Draft): string | undefined {
  if (draft.language !== undefined) return undefined;
  // A bounded start of the text: detection reads no more (language.ts), so the rest is not copied.
  return `${draft.title ?? ""}\n${draft.plainText.slice(0, 1000)}`;
}

const titleLength = 140;
const summaryLength = 300;

/**
 * Applies the shared rules: language, title, summary (never empty), slug and hash. `detected`
 * is the language detected from `detectionText(draft)`, if any.
 */
export function finishArticle(
  draft: Draft,
  options: ParseOptions,
  detected: string | undefined,
): ParsedArticle {
  const language = draft.language ?? detected ?? options.defaultLanguage;
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

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

function decodeUtf8(bytes: Uint8Array): string | { reason: string; line: number } {
  const nul = bytes.indexOf(0);
  if (nul !== -1) return { reason: "binary data, not text", line: lineAt(bytes, nul) };
  try {
    return utf8.decode(bytes);
  } catch {
    // Find the first undecodable byte: the lenient decoder marks it with U+FFFD.
    const text = lenientUtf8.decode(bytes);
    const at = text.indexOf("\uFFFD");
    const line = text.slice(0, Math.max(at, 0)).split("\n").length;
    return { reason: "not valid UTF-8 text (save the file as UTF-8)", line };
  }
}

function lineCount(text: string): number {
  let count = 1;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) count++;
  return count;
}

function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 10) line++;
  return line;
}
