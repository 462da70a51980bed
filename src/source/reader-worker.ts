// The thread of a `ReaderThread` (`reader-thread.ts`): reads the files it is given, and tells
// the languages of the texts it is given.
import { parentPort } from "node:worker_threads";
import type { ScannedFile } from "../store/store.ts";
import type { ParseOptions } from "./article-draft.ts";
import { detectLanguages } from "./language.ts";
import { detectHere, readArticleFiles } from "./read.ts";
import type { FoundFile } from "./scan.ts";

export type Request =
  | { readonly id: number; readonly texts: readonly (string | undefined)[] }
  | { readonly id: number; readonly files: readonly FoundFile[]; readonly options: ParseOptions };

export type Answer =
  | { readonly id: number; readonly languages: readonly (string | undefined)[] }
  | { readonly id: number; readonly scanned: readonly ScannedFile[] };

parentPort?.on("message", async (request: Request) => {
  const answer: Answer =
    "texts" in request
      ? { id: request.id, languages: detectLanguages(request.texts) }
      : {
          id: request.id,
          scanned: await readArticleFiles(request.files, request.options, detectHere),
        };
  parentPort?.postMessage(answer);
});
