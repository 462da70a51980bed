import { getLogger } from "@logtape/logtape";
import type { ChangeEvent } from "./article.ts";
import type { ParseOptions } from "./source/parse.ts";
import { readArticleFile } from "./source/read.ts";
import { type FoundFile, listArticleFiles } from "./source/scan.ts";
import type { ArticleStore, ScannedFile, Skipped } from "./store/store.ts";

const logger = getLogger(["herald", "pipeline"]);

/** Something that publishes change events: the feeds, the fediverse account. */
export interface Publisher {
  /** Names its delivery cursor in the store: keep it stable. */
  readonly name: string;
  /** Must succeed for every event, or throw: the events are offered again next time. */
  publish(events: readonly ChangeEvent[]): Promise<void>;
}

export interface PipelineDeps {
  readonly articlesDir: string;
  readonly parseOptions: ParseOptions;
  readonly store: ArticleStore;
  readonly publishers: readonly Publisher[];
  readonly now?: () => Date;
}

export interface ScanReport {
  /** Files present. */
  readonly files: number;
  /** Files read and parsed this time (new or changed since the last scan). */
  readonly read: number;
  /** Files refused or skipped this time, with the reason. */
  readonly skipped: readonly Skipped[];
  readonly changes: readonly ChangeEvent[];
  readonly durationMs: number;
}

/** One scan: files → parser → store (change events) → each publisher in turn. */
export async function runScan(deps: PipelineDeps): Promise<ScanReport> {
  const started = performance.now();
  const { files, refused } = listArticleFiles(deps.articlesDir);
  const stamps = await deps.store.fileStamps();
  const isUnchanged = (file: FoundFile) => {
    const known = stamps.get(file.path);
    return known?.size === file.stamp.size && known.mtimeMs === file.stamp.mtimeMs;
  };
  const unchanged = files.filter(isUnchanged);
  const changed = files.filter((file) => !isUnchanged(file));
  const read = await readAll(changed, deps.parseOptions);
  const scanned: ScannedFile[] = [
    ...unchanged.map((file) => ({ kind: "unchanged", path: file.path }) as const),
    ...read,
  ];
  const changes = await deps.store.apply(scanned, (deps.now ?? (() => new Date()))());
  await deliver(deps.store, deps.publishers);
  const skipped = [...refused, ...read.flatMap((f) => (f.kind === "skipped" ? [f.skipped] : []))];
  return {
    files: files.length,
    read: changed.length,
    skipped,
    changes,
    durationMs: performance.now() - started,
  };
}

/** Reads and parses files, yielding to the event loop now and then and logging progress. */
async function readAll(files: readonly FoundFile[], options: ParseOptions): Promise<ScannedFile[]> {
  const result: ScannedFile[] = [];
  let lastReport = performance.now();
  for (const [index, file] of files.entries()) {
    result.push(readArticleFile(file, options));
    if (index % 100 === 99) {
      await new Promise((resolve) => setImmediate(resolve));
      if (performance.now() - lastReport > 2000) {
        logger.info("Reading articles: {done} of {total} files.", {
          done: index + 1,
          total: files.length,
        });
        lastReport = performance.now();
      }
    }
  }
  return result;
}

/**
 * Offers each publisher, in order, the events it has not yet handled, and records each
 * batch as delivered only after the publisher succeeded. A failing publisher is retried at
 * the next scan and does not hold up the others.
 */
export async function deliver(
  store: ArticleStore,
  publishers: readonly Publisher[],
): Promise<void> {
  for (const publisher of publishers) {
    try {
      for (;;) {
        const events = await store.pending(publisher.name);
        const last = events.at(-1);
        if (last === undefined) break;
        await publisher.publish(events);
        await store.markDelivered(publisher.name, last.seq);
      }
    } catch (error) {
      logger.error("Publishing to {publisher} failed; will retry at the next scan: {error}", {
        publisher: publisher.name,
        error,
      });
    }
  }
}
