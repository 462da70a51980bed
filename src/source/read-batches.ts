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
 * The files read and parsed, in batches of `batchSize` (at least one, empty if there are none).
 * With more than one batch, a second thread reads with this one, and the next batch is read
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
  try {
    let reading = read(0);
    for (let start = 0; start === 0 || start < files.length; start += batchSize) {
      const batch = await reading;
      if (start + batchSize < files.length) reading = read(start + batchSize);
      yield batch;
    }
  } finally {
    await thread?.close();
  }
}
