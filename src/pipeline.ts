import { getLogger } from "@logtape/logtape";
import type { Article, ChangeEvent, RemovedElement } from "./article.ts";
import { readAuthors } from "./source/authors.ts";
import type { ParseOptions } from "./source/parse.ts";
import { readBatches } from "./source/read-batches.ts";
import { findArticleFiles, listArticleFiles } from "./source/scan.ts";
import { type ArticleStore, byPath, type Skipped } from "./store/store.ts";

const logger = getLogger(["herald", "pipeline"]);

/** Something that publishes change events: the feeds, the fediverse account. */
export interface Publisher {
  /** Names its delivery cursor in the store: keep it stable. */
  readonly name: string;
  /** Must succeed for every event, or throw: the events are offered again next time. */
  publish(events: readonly ChangeEvent[]): Promise<void>;
  /**
   * Called once the events a scan left were all published, if there were any (a first import
   * of 100,000 is 200 calls of `publish`): work needed once per scan, not per batch, goes here.
   * It runs after every publisher has published, so that such work (the site warming its pages)
   * does not hold up the next publisher (the fediverse account queueing its posts).
   */
  settled?(): Promise<void>;
}

export interface PipelineDeps {
  readonly articlesDir: string;
  readonly parseOptions: ParseOptions;
  readonly store: ArticleStore;
  readonly publishers: readonly Publisher[];
  readonly now?: () => Date;
}

/** A change, without the article's content: what a scan report keeps. */
export interface ChangeSummary {
  readonly type: ChangeEvent["type"];
  readonly seq: number;
  readonly article: Pick<Article, "id" | "slug" | "path" | "title" | "language">;
}

export interface ScanReport {
  /** Files present; in a scan of named files, those of them present. */
  readonly files: number;
  /** Files read and parsed this time (new or changed since the last scan). */
  readonly read: number;
  /** Files refused or skipped this time, with the reason. */
  readonly skipped: readonly Skipped[];
  /** Of those, the files whose article was published before they broke: it stays published. */
  readonly keptPublished: ReadonlySet<string>;
  /** Elements the sanitiser removed from the articles read this time, by file. */
  readonly removed: readonly (RemovedElement & { readonly path: string })[];
  /** The first `listedChanges` changes, in order: enough to name those of an everyday scan. */
  readonly changes: readonly ChangeSummary[];
  /** How many changes of each type the scan made, listed or not. */
  readonly counted: Readonly<Record<ChangeEvent["type"], number>>;
  readonly durationMs: number;
  /** Another scan, in this or another process, held the scan lock: this one did nothing. */
  readonly busy: boolean;
}

/**
 * How many changes a scan report names. A first import of 100,000 files naming them all held
 * 40 MB until its end, and its garbage collection took 4 s more (issue #17).
 */
const listedChanges = 100;

const noChanges: ScanReport["counted"] = { created: 0, updated: 0, deleted: 0 };

/**
 * One scan: files → parser → store (change events) → each publisher in turn. Skipped, with
 * `busy` in the report, while another scan holds the store's scan lock.
 *
 * `only` names the files to look at (relative to `ARTICLES_DIR`, with `/`), as the folder
 * watcher reports them: a new story in a folder of 100,000 costs a stat of its own file, not of
 * every file (issue #17). Without it, every file is looked at: the scheduled safety net.
 */
export async function runScan(deps: PipelineDeps, only?: readonly string[]): Promise<ScanReport> {
  const started = performance.now();
  const lock = await deps.store.tryLockScan();
  if (lock === undefined) {
    logger.debug("Another scan is running; this one is skipped.");
    const durationMs = performance.now() - started;
    return {
      files: 0,
      read: 0,
      skipped: [],
      keptPublished: new Set(),
      removed: [],
      changes: [],
      counted: noChanges,
      durationMs,
      busy: true,
    };
  }
  try {
    return await scan(deps, started, only);
  } finally {
    await lock.release();
  }
}

async function scan(
  deps: PipelineDeps,
  started: number,
  only: readonly string[] | undefined,
): Promise<ScanReport> {
  const now = (deps.now ?? (() => new Date()))();
  const listed =
    only === undefined
      ? listArticleFiles(deps.articlesDir)
      : findArticleFiles(deps.articlesDir, only);
  const { files } = listed;
  // Read at every scan: a new name in it applies to the stories read from then on.
  const authors = readAuthors(deps.articlesDir);
  const refused = [...listed.refused, ...authors.problems];
  const parseOptions = { ...deps.parseOptions, authors: authors.handles };
  // Of the named files only: those the store knows and that are not there are gone.
  const stamps = await deps.store.fileStamps(only);
  // In path order: the store's index by path is then appended to, not inserted into all over
  // (a folder lists its files in no particular order), and events come in an order people see.
  const changed = files
    .filter((file) => {
      const known = stamps.get(file.path);
      return known?.size !== file.stamp.size || known.mtimeMs !== file.stamp.mtimeMs;
    })
    .sort(byPath);
  const present = new Set(files.map((file) => file.path));
  const gone = [...stamps.keys()].filter((path) => !present.has(path));
  const changes: ChangeSummary[] = [];
  const counted = { ...noChanges };
  const skipped: Skipped[] = [...refused];
  const removed: ScanReport["removed"][number][] = [];
  let done = 0;
  let lastReport = performance.now();
  for await (const batch of readBatches(changed, parseOptions)) {
    done += batch.length;
    const final = done >= changed.length;
    const events = await deps.store.apply({ files: batch, gone, final }, now);
    for (const event of events) {
      counted[event.type]++;
      if (changes.length < listedChanges) changes.push(summarize(event));
    }
    for (const file of batch) {
      if (file.kind === "skipped") {
        skipped.push(file.skipped);
        continue;
      }
      const { path, removed: elements = [] } = file.article;
      removed.push(...elements.map((element) => ({ path, ...element })));
    }
    if (!final && performance.now() - lastReport > 2000) {
      logger.info("Reading articles: {done} of {total} files.", { done, total: changed.length });
      lastReport = performance.now();
    }
    await new Promise((resolve) => setImmediate(resolve)); // let requests in between batches
  }
  await deliver(deps.store, deps.publishers);
  return {
    files: files.length,
    read: changed.length,
    skipped,
    // Files read and skipped, not those refused unread: these are reported at every scan.
    keptPublished: await publishedPaths(deps.store, skipped.slice(refused.length)),
    removed,
    changes,
    counted,
    durationMs: performance.now() - started,
    busy: false,
  };
}

/** Which of the skipped files still have a published article (its last good version). */
async function publishedPaths(
  store: ArticleStore,
  skipped: readonly Skipped[],
): Promise<ReadonlySet<string>> {
  // Read only when something broke, which is rare: the store has no lookup by path.
  if (skipped.length === 0) return new Set();
  const broken = new Set(skipped.map((s) => s.path));
  const records = await store.listAll();
  return new Set(
    records
      .filter((r) => r.state === "published" && broken.has(r.article.path))
      .map((r) => r.article.path),
  );
}

function summarize({ type, seq, article }: ChangeEvent): ChangeSummary {
  const { id, slug, path, title, language } = article;
  // Copied through JSON: a title may be a slice of its whole file's text, which V8 would keep
  // alive with it.
  const kept = JSON.parse(JSON.stringify({ id, slug, path, title, language }));
  return { type, seq, article: kept };
}

/**
 * Offers each publisher, in order, the events it has not yet handled, and records each
 * batch as delivered only after the publisher succeeded. A failing publisher is retried at
 * the next scan and does not hold up the others. Then each that published does its work once
 * per scan (`settled`).
 */
export async function deliver(
  store: ArticleStore,
  publishers: readonly Publisher[],
): Promise<void> {
  const toSettle: Publisher[] = [];
  for (const publisher of publishers) {
    try {
      let published = false;
      for (;;) {
        const events = await store.pending(publisher.name);
        const last = events.at(-1);
        if (last === undefined) break;
        await publisher.publish(events);
        await store.markDelivered(publisher.name, last.seq);
        published = true;
      }
      if (published) toSettle.push(publisher);
    } catch (error) {
      logger.error("Publishing to {publisher} failed; will retry at the next scan: {error}", {
        publisher: publisher.name,
        error,
      });
    }
  }
  for (const publisher of toSettle) {
    try {
      await publisher.settled?.();
    } catch (error) {
      logger.error("{publisher} published, but its work after the scan failed: {error}", {
        publisher: publisher.name,
        error,
      });
    }
  }
}
