import type { ParsedArticle } from "../article.ts";
import type { Skipped } from "../store/store.ts";
import type { ParseOptions } from "./article-draft.ts";
import { parseMarkdown } from "./markdown.ts";
import { parsePlainText } from "./plaintext.ts";

export type { ParseOptions } from "./article-draft.ts";

export const articleExtensions = [".md", ".markdown", ".txt"] as const;

export function isParsed(result: ParsedArticle | Skipped): result is ParsedArticle {
  return "hash" in result;
}

/**
 * Turns one file's bytes into an article, or says why it can't (naming the line where
 * known). Never throws for bad input: one bad file must not fail a scan.
 */
export function parseArticle(
  path: string,
  bytes: Uint8Array,
  options: ParseOptions,
): ParsedArticle | Skipped {
  const extension = /\.[^./]+$/.exec(path)?.[0].toLowerCase() ?? "";
  if (!(articleExtensions as readonly string[]).includes(extension)) {
    const what = extension === "" ? "a file without extension" : `a ${extension} file`;
    return { path, reason: `${what} is not an article (use .md or .txt)` };
  }
  const decoded = decodeUtf8(bytes);
  if (typeof decoded !== "string") return { path, ...decoded };
  const text = decoded.replace(/^\uFEFF/, "");
  if (text.trim() === "") return { path, reason: "the file is empty" };
  return extension === ".txt"
    ? parsePlainText(path, text, options)
    : parseMarkdown(path, text, options);
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

function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 10) line++;
  return line;
}
