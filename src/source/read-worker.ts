/**
 * The worker thread of `read-pool.ts`: reads and parses the files it is handed, one batch per
 * message, with the options it was started with.
 */
import { parentPort, workerData } from "node:worker_threads";
import { readArticleFile } from "./read.ts";
import type { ReadRequest, ReadResult } from "./read-pool.ts";

const port = parentPort;
if (port === null) throw new Error("read-worker.ts runs as a worker thread (read-pool.ts).");
const { options } = workerData as { options: Parameters<typeof readArticleFile>[1] };
port.on("message", ({ id, files }: ReadRequest) => {
  const result: ReadResult = { id, scanned: files.map((file) => readArticleFile(file, options)) };
  port.postMessage(result);
});
