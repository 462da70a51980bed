import { Worker } from "node:worker_threads";
import type { Answer, Request } from "./language-worker.ts";

/**
 * Language detection on a thread of its own (issue #17). CLD3 is a fifth of a first import's
 * CPU: while a scan stores one batch of articles, the next batch's languages are detected on
 * another core. The thread starts when a scan reads files and ends after `idleMs` without
 * work, so a service that is not reading new stories does not hold it (about 45 MB with CLD3).
 */
const idleMs = 10_000;

interface Waiting {
  readonly resolve: (languages: Answer["languages"]) => void;
  readonly reject: (error: Error) => void;
}

interface Thread {
  readonly worker: Worker;
  readonly due: Map<number, Waiting>;
  idle?: NodeJS.Timeout;
}

let current: Thread | undefined;
let nextId = 0;

/** The language of each text (`undefined` where there is none, or it cannot be told). */
export function detectLanguages(texts: Request["texts"]): Promise<Answer["languages"]> {
  if (texts.length === 0) return Promise.resolve([]);
  current ??= start();
  const { worker, due } = current;
  clearTimeout(current.idle);
  const id = nextId++;
  worker.ref(); // an answer is due: a command-line check must not exit before it
  worker.postMessage({ id, texts } satisfies Request);
  return new Promise((resolve, reject) => due.set(id, { resolve, reject }));
}

function start(): Thread {
  const worker = new Worker(new URL("./language-worker.ts", import.meta.url), {
    // Its heap holds a batch of texts at a time; CLD3's memory is WebAssembly's, outside it.
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
  });
  const thread: Thread = { worker, due: new Map() };
  worker.on("message", ({ id, languages }: Answer) => {
    thread.due.get(id)?.resolve(languages);
    thread.due.delete(id);
    if (thread.due.size > 0) return;
    worker.unref();
    thread.idle = setTimeout(() => {
      if (current === thread) current = undefined;
      void worker.terminate();
    }, idleMs).unref();
  });
  // A failure fails the scans waiting for it; the next scan starts a new thread.
  const fail = (error: Error) => {
    if (current === thread) current = undefined;
    for (const { reject } of thread.due.values()) reject(error);
    thread.due.clear();
  };
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`the language detector stopped (exit code ${code})`)));
  return thread;
}
