import type { ScannedFile } from "../store/store.ts";
import type { ParseOptions } from "./article-draft.ts";
import { detectHere, readArticleFiles } from "./read.ts";
import { ReaderThread } from "./reader-thread.ts";
import type { FoundFile } from "./scan.ts";

/**
 * How many files are read before they are stored: bounds memory on a large first import. A
 * cold scan of 100,000 files (`bench/scan.ts`) peaked at 261–280 MiB with 500, 235–243 with
 * 200, in the same time; 125 saved 20 MiB more and took 8% longer.
 */
const batchSize = 200;

/**
 * How many batches are read ahead of the one being stored. With one, each batch was a meeting
 * point: whichever thread had the slower batch (a commit, a garbage collection) left the other
 * waiting, 10-15% of the scan on each thread. With two, a cold scan of 10,000 files took 6% less
 * time (8 alternated pairs: 7 faster, 1 even); three took no less.
 */
const ahead = 2;

/**
 * The files read and parsed, in batches of `batchSize` (at least one, empty if there are none).
 * With more than one batch, a second thread reads with this one, and the next batches are read
 * while the caller stores the one before (issue #17: both cores at work on an import).
 */
export async function* readBatches(
  files: readonly FoundFile[],
  options: ParseOptions,
): AsyncGenerator<ScannedFile[]> {
  const thread = files.length > batchSize ? new ReaderThread() : undefined;
  const read = (start: number) => {
    const slice = files.slice(start, start + batchSize);
    const reading = thread?.read(slice, options) ?? readArticleFiles(slice, options, detectHere);
    reading.catch(() => {}); // awaited in its turn, where a failure fails the scan
    return reading;
  };
  const count = Math.max(1, Math.ceil(files.length / batchSize));
  try {
    // In order: the batch to store next and those read after it, `ahead` at most.
    const readings = Array.from({ length: Math.min(ahead, count) }, (_, i) => read(i * batchSize));
    for (let i = 0; i < count; i++) {
      const batch = await (readings.shift() as Promise<ScannedFile[]>);
      if (i + ahead < count) readings.push(read((i + ahead) * batchSize));
      yield batch;
    }
  } finally {
    await thread?.close();
  }
}
