// The detector's thread (`detector.ts`): answers each batch of texts with their languages.
import { parentPort } from "node:worker_threads";
import { detectLanguage } from "./language.ts";

export interface Request {
  readonly id: number;
  readonly texts: readonly (string | undefined)[];
}

export interface Answer {
  readonly id: number;
  readonly languages: readonly (string | undefined)[];
}

parentPort?.on("message", ({ id, texts }: Request) => {
  const languages = texts.map((text) => (text === undefined ? undefined : detectLanguage(text)));
  parentPort?.postMessage({ id, languages } satisfies Answer);
});
