// The thread of a `DetectorThread` (`detector.ts`): answers each batch of texts with their languages.
import { parentPort } from "node:worker_threads";
import { detectLanguages } from "./language.ts";

export interface Request {
  readonly id: number;
  readonly texts: readonly (string | undefined)[];
}

export interface Answer {
  readonly id: number;
  readonly languages: readonly (string | undefined)[];
}

parentPort?.on("message", ({ id, texts }: Request) => {
  parentPort?.postMessage({ id, languages: detectLanguages(texts) } satisfies Answer);
});
