import { Worker } from "node:worker_threads";
import type { Answer, Request } from "./language-worker.ts";

/** The languages of texts (`undefined` for no text, or where the language cannot be told). */
export type Detect = (texts: Request["texts"]) => Promise<Answer["languages"]>;

/** Detection on this thread, for work with nothing to do meanwhile. Loads CLD3 on first use. */
export const detectHere: Detect = async (texts) => {
  const { detectLanguages } = await import("./language.ts");
  return detectLanguages(texts);
};

/**
 * Detection on a thread of its own, for a scan of many batches (issue #17): CLD3 is a fifth of
 * a first import's CPU, so while the scan stores one batch, the next batch's languages are
 * detected on another core. The thread costs about 20 MB besides CLD3's: `close()` ends it.
 */
export class DetectorThread {
  readonly #worker = new Worker(new URL("./language-worker.ts", import.meta.url), {
    // Its heap holds a batch of texts at a time; CLD3's memory is WebAssembly's, outside it.
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
  });
  readonly #due = new Map<number, PromiseWithResolvers<Answer["languages"]>>();
  #nextId = 0;
  #failure: Error | undefined;

  constructor() {
    this.#worker.on("message", ({ id, languages }: Answer) => {
      this.#due.get(id)?.resolve(languages);
      this.#due.delete(id);
    });
    // A failure fails the scan waiting for it; the next scan starts a new thread.
    const fail = (error: Error) => {
      this.#failure ??= error;
      for (const { reject } of this.#due.values()) reject(error);
      this.#due.clear();
    };
    this.#worker.on("error", fail);
    this.#worker.on("exit", (code) =>
      fail(new Error(`the language detector stopped (exit code ${code})`)),
    );
  }

  readonly detect: Detect = (texts) => {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const answer = Promise.withResolvers<Answer["languages"]>();
    this.#due.set(id, answer);
    this.#worker.postMessage({ id, texts } satisfies Request);
    return answer.promise;
  };

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
