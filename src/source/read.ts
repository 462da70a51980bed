import { readFileSync } from "node:fs";
import type { ScannedFile } from "../store/store.ts";
import { isParsed, type ParseOptions, parseArticle } from "./parse.ts";
import type { FoundFile } from "./scan.ts";

/** Files larger than this are refused unread: no article is 5 MiB of text. */
export const maxArticleBytes = 5 * 1024 * 1024;

/** Reads and parses one found file; never throws for a bad or unreadable file. */
export function readArticleFile(file: FoundFile, options: ParseOptions): ScannedFile {
  const { path, stamp } = file;
  if (stamp.size > maxArticleBytes) {
    const size = (stamp.size / 1024 / 1024).toFixed(1);
    return {
      kind: "skipped",
      stamp,
      skipped: { path, reason: `too large (${size} MiB; at most 5 MiB)` },
    };
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file.absolutePath);
  } catch (error) {
    const reason = `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    return { kind: "skipped", stamp, skipped: { path, reason } };
  }
  let result: ReturnType<typeof parseArticle>;
  try {
    result = parseArticle(path, bytes, options);
  } catch (error) {
    // parseArticle() reports bad input itself; this is the last line of defence, so that a
    // file no rule foresaw still cannot stop the scan.
    const reason = `cannot be parsed (${error instanceof Error ? error.message : String(error)})`;
    return { kind: "skipped", stamp, skipped: { path, reason } };
  }
  return isParsed(result)
    ? { kind: "parsed", stamp, article: result }
    : { kind: "skipped", stamp, skipped: result };
}
