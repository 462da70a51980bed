import { readFileSync } from "node:fs";
import type { ScannedFile } from "../store/store.ts";
import {
  type Draft,
  detectionText,
  draftArticle,
  finishArticle,
  isSkipped,
  type ParseOptions,
} from "./article-draft.ts";
import type { FoundFile } from "./scan.ts";

/**
 * Files larger than this are refused unread: an article of 1 MiB would be a book of 150,000
 * words. 1 MiB of the densest Markdown (emphasis every four bytes) parses within the deployed
 * heap limit of 256 MB (`tests/e2e/heavy-articles.test.ts`); 5 MiB of links and emphasis took
 * the process past it.
 */
export const maxArticleBytes = 1024 * 1024;

/** The languages of texts (`undefined` for no text, or where the language cannot be told). */
export type Detect = (
  texts: readonly (string | undefined)[],
) => Promise<readonly (string | undefined)[]>;

/** Detection on this thread. Loads CLD3 on first use. */
export const detectHere: Detect = async (texts) => {
  const { detectLanguages } = await import("./language.ts");
  return detectLanguages(texts);
};

const detectionChunk = 100;

type Drafted = { readonly file: FoundFile; readonly draft: Draft } | ScannedFile;

/**
 * Reads and parses found files; never fails for a bad or unreadable file. Reading and parsing
 * happen at once, on this thread, then `detect` is asked for the languages (in chunks, as
 * they are parsed): a `ReaderThread`'s detection starts on the first chunk while this thread
 * parses the next.
 */
export async function readArticleFiles(
  files: readonly FoundFile[],
  options: ParseOptions,
  detect: Detect,
): Promise<ScannedFile[]> {
  const drafted: Drafted[] = [];
  const detecting: ReturnType<Detect>[] = [];
  for (let start = 0; start < files.length; start += detectionChunk) {
    const chunk = files.slice(start, start + detectionChunk).map(readDraft);
    drafted.push(...chunk);
    detecting.push(detect(chunk.map((d) => ("draft" in d ? detectionText(d.draft) : undefined))));
  }
  const languages = (await Promise.all(detecting)).flat();
  return drafted.map((d, i) => ("draft" in d ? finish(d.file, d.draft, options, languages[i]) : d));
}

function readDraft(file: FoundFile): Drafted {
  const { path, stamp } = file;
  if (stamp.size > maxArticleBytes) {
    // Rounded up: a file a few bytes over the limit does not read as the limit.
    const size = (Math.ceil((stamp.size / 1024 / 1024) * 10) / 10).toFixed(1);
    return {
      kind: "skipped",
      stamp,
      skipped: { path, reason: `too large (${size} MiB; at most 1 MiB)` },
    };
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file.absolutePath);
  } catch (error) {
    const reason = `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    return { kind: "skipped", stamp, skipped: { path, reason } };
  }
  return defended(file, (): Drafted => {
    const draft = draftArticle(path, bytes);
    return isSkipped(draft) ? { kind: "skipped", stamp, skipped: draft } : { file, draft };
  });
}

function finish(
  file: FoundFile,
  draft: Draft,
  options: ParseOptions,
  language: string | undefined,
): ScannedFile {
  return defended(file, () => ({
    kind: "parsed",
    stamp: file.stamp,
    article: finishArticle(draft, options, language),
  }));
}

/**
 * The parser reports bad input itself; this is the last line of defence, so that a file no
 * rule foresaw still cannot stop the scan.
 */
function defended<T extends Drafted>(file: FoundFile, parse: () => T): T | ScannedFile {
  try {
    return parse();
  } catch (error) {
    const reason = `cannot be parsed (${error instanceof Error ? error.message : String(error)})`;
    return { kind: "skipped", stamp: file.stamp, skipped: { path: file.path, reason } };
  }
}
