/**
 * Reads and parses the files of a large scan in worker threads, so that the main thread can
 * store one batch while the next is being parsed (issue #17: a first import of 100,000 files
 * is half parsing, half storing), and keeps answering requests meanwhile. A scan of a few
 * files (what the folder watcher reports) parses them in place: starting a worker, which
 * loads the parsers, costs more than they do.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { getLogger } from "@logtape/logtape";
import type { ScannedFile } from "../store/store.ts";
import type { ParseOptions } from "./parse.ts";
import { readArticleFile } from "./read.ts";
import type { FoundFile } from "./scan.ts";

const logger = getLogger(["herald", "source"]);

/** Below this many files to read, a scan parses them on the main thread. */
export const WORKER_THRESHOLD = 1000;

/** One batch for a worker, and its answer. */
export interface ReadRequest {
  readonly id: number;
  readonly files: readonly FoundFile[];
}
export interface ReadResult {
  readonly id: number;
  readonly scanned: ScannedFile[];
}

export interface FileReader {
  /** Worker threads reading; 0 when the main thread reads. */
  readonly threads: number;
  /** The files read and parsed, in order; never rejects (a bad file is a skipped one). */
  read(files: readonly FoundFile[]): Promise<ScannedFile[]>;
  /** Ends the workers, if any. */
  close(): Promise<void>;
}

/** A reader for `count` files: worker threads for many, the main thread for a few. */
export function fileReader(count: number, options: ParseOptions): FileReader {
  if (count < WORKER_THRESHOLD) return inlineReader(options);
  // One thread is left for the main thread's storing; on a 2-core machine that is one worker.
  const workers = Math.min(4, Math.max(1, availableParallelism() - 1));
  return new PoolReader(workers, options);
}

function inlineReader(options: ParseOptions): FileReader {
  return {
    threads: 0,
    read: async (files) => files.map((file) => readArticleFile(file, options)),
    close: async () => {},
  };
}

/**
 * Splits each batch among its workers. A worker that dies (out of memory, say) fails the
 * batches it held over to the main thread, which reads them itself from then on.
 */
class PoolReader implements FileReader {
  readonly #options: ParseOptions;
  readonly #workers: Worker[] = [];
  readonly #waiting = new Map<number, (scanned: ScannedFile[] | undefined) => void>();
  #nextId = 0;
  readonly threads: number;
  #broken = false;
  #closed = false;

  constructor(count: number, options: ParseOptions) {
    this.#options = options;
    this.threads = count;
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL("./read-worker.ts", import.meta.url), {
        workerData: { options },
      });
      worker.on("message", ({ id, scanned }: ReadResult) => this.#settle(id, scanned));
      worker.on("error", (error) => this.#fail(error));
      worker.on("exit", (code) => {
        if (code !== 0) this.#fail(new Error(`exited with code ${code}`));
      });
      this.#workers.push(worker);
    }
  }

  async read(files: readonly FoundFile[]): Promise<ScannedFile[]> {
    const size = Math.ceil(files.length / this.#workers.length);
    const parts = this.#workers.map((worker, i) =>
      this.#readIn(worker, files.slice(i * size, (i + 1) * size)),
    );
    return (await Promise.all(parts)).flat();
  }

  async #readIn(worker: Worker, files: readonly FoundFile[]): Promise<ScannedFile[]> {
    if (files.length === 0) return [];
    const inline = () => files.map((file) => readArticleFile(file, this.#options));
    if (this.#broken) return inline();
    const id = this.#nextId++;
    const scanned = await new Promise<ScannedFile[] | undefined>((resolve) => {
      this.#waiting.set(id, resolve);
      worker.postMessage({ id, files } satisfies ReadRequest);
    });
    // A scan that failed and closed the reader needs the batch no more.
    return scanned ?? (this.#closed ? [] : inline());
  }

  #settle(id: number, scanned: ScannedFile[] | undefined): void {
    this.#waiting.get(id)?.(scanned);
    this.#waiting.delete(id);
  }

  #fail(error: unknown): void {
    if (!this.#broken) {
      logger.warn("A parser thread failed ({error}); reading the files on the main thread.", {
        error,
      });
    }
    this.#broken = true;
    for (const id of [...this.#waiting.keys()]) this.#settle(id, undefined);
  }

  async close(): Promise<void> {
    this.#broken = true;
    this.#closed = true;
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}
