import { Worker } from "node:worker_threads";
import type { ScannedFile } from "../store/store.ts";
import type { ParseOptions } from "./article-draft.ts";
import { type Detect, readArticleFiles } from "./read.ts";
import type { Answer, Request } from "./reader-worker.ts";
import type { FoundFile } from "./scan.ts";

/** What the main thread gives the reader thread to read of each batch. */
const threadShare = 0.5;

/**
 * A second thread for a scan of many batches (issue #17): on two cores, a large import took
 * three times as long as the bare parse when one thread read, parsed and detected the language
 * of every file and stored it. With this thread, the main thread reads and parses half of each
 * batch, the thread reads and parses the other half and detects the languages of the first,
 * and the main thread stores the batch before meanwhile. It costs about 45 MB (its heap, the
 * parsers and CLD3) while it runs: `close()` ends it.
 */
export class ReaderThread {
  readonly #worker = new Worker(new URL("./reader-worker.ts", import.meta.url), {
    // Its heap holds a batch's texts and what parsing them leaves (CLD3's memory is outside it).
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 },
  });
  readonly #due = new Map<number, PromiseWithResolvers<unknown>>();
  #nextId = 0;
  #failure: Error | undefined;

  constructor() {
    this.#worker.on("message", (answer: Answer) => {
      const due = this.#due.get(answer.id);
      this.#due.delete(answer.id);
      due?.resolve("languages" in answer ? answer.languages : answer.scanned);
    });
    // A failure fails the scan waiting for it; the next scan starts a new thread.
    const fail = (error: Error) => {
      this.#failure ??= error;
      for (const { reject } of this.#due.values()) reject(error);
      this.#due.clear();
    };
    this.#worker.on("error", fail);
    this.#worker.on("exit", (code) =>
      fail(new Error(`The reader thread stopped: exit code ${code}`)),
    );
  }

  /** Reads a batch of files, half of them on this thread and half on the reader thread. */
  read(files: readonly FoundFile[], options: ParseOptions): Promise<ScannedFile[]> {
    const split = Math.floor(files.length * (1 - threadShare));
    // Asked first, so that the thread starts on them while this thread reads its own.
    const there = this.#ask<ScannedFile[]>((id) => ({
      id,
      // Plain objects: a found file's absolute path is a getter, which a message does not carry.
      files: files
        .slice(split)
        .map(({ path, absolutePath, stamp }) => ({ path, absolutePath, stamp })),
      options,
    }));
    const here = readArticleFiles(files.slice(0, split), options, this.detect);
    return Promise.all([here, there]).then(([first, second]) => [...first, ...second]);
  }

  /** Detection on the reader thread, for the files this thread reads. */
  readonly detect: Detect = (texts) => this.#ask((id) => ({ id, texts }));

  async close(): Promise<void> {
    await this.#worker.terminate();
  }

  #ask<T>(request: (id: number) => Request): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const answer = Promise.withResolvers<unknown>();
    this.#due.set(id, answer);
    this.#worker.postMessage(request(id));
    return answer.promise as Promise<T>;
  }
}
