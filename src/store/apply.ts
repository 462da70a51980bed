/**
 * The apply step of a scan, written once for every engine: what to read, what
 * `diffArticles()` decides, and what to write, in that order. An engine supplies the reads and
 * writes (`ApplyTransaction`) inside a transaction of its own, and runs the steps with
 * `applyBatch()` (answers are promises) or `applyBatchSync()` (answers come at once).
 */
import type { ArticleChange, ChangeEvent } from "../article.ts";
import { newArticleId } from "./article-id.ts";
import { diffArticles } from "./diff.ts";
import type { FileStamp, ScanBatch, ScannedFile, StoredArticle } from "./store.ts";

type Awaitable<T> = T | Promise<T>;

/** One row of the files table: what a scan saw of a file and what became of it. */
export interface FileRow {
  readonly path: string;
  readonly stamp: FileStamp;
  /** The article the file yields, if any. */
  readonly articleId: string | undefined;
  /** Why the file was skipped, if it was. */
  readonly problem: string | undefined;
}

/**
 * The reads and writes `applyBatch()` needs, inside a transaction the engine opened. Each may
 * answer at once (SQLite) or with a promise (PostgreSQL); a list goes in one call so that an
 * engine can pipeline its statements.
 */
export interface ApplyTransaction {
  /** Records when the first scan ended, unless one did before. */
  recordFirstScan(at: Date): Awaitable<void>;
  /** The article each of `paths` yields, for the paths the store knows and that yield one. */
  links(paths: readonly string[]): Awaitable<ReadonlyMap<string, string>>;
  /** Scheduled articles whose time has come. */
  due(now: Date): Awaitable<readonly StoredArticle[]>;
  /** The articles with these ids, in any state and order. */
  byIds(ids: readonly string[]): Awaitable<readonly StoredArticle[]>;
  /**
   * Who owns a slug among live articles, for every slug `diffArticles()` may ask about given
   * the wanted ones: each of them and its numbered variants (`news`, `news-2`, …).
   */
  slugOwners(wanted: readonly string[]): Awaitable<(slug: string) => string | undefined>;
  putFiles(rows: readonly FileRow[]): Awaitable<void>;
  deleteFiles(paths: readonly string[]): Awaitable<void>;
  /** Inserts or replaces each article; `firstSeen` is kept for an article already stored. */
  putArticles(records: readonly StoredArticle[]): Awaitable<void>;
  /** Appends the change events and answers their `seq` numbers, in order. */
  appendEvents(changes: readonly ArticleChange[], at: Date): Awaitable<readonly number[]>;
}

/** Applies one batch of a scan through an engine whose transaction answers with promises. */
export async function applyBatch(
  tx: ApplyTransaction,
  batch: ScanBatch,
  now: Date,
): Promise<ChangeEvent[]> {
  const steps = applySteps(tx, batch, now);
  let next = steps.next();
  while (!next.done) next = steps.next(await next.value);
  return next.value;
}

/**
 * Applies one batch of a scan through an engine whose transaction answers at once. SQLite
 * needs this: its connection is shared by the KV store and the queue, so no transaction on it
 * may span an `await` (their statements would join it).
 */
export function applyBatchSync(tx: ApplyTransaction, batch: ScanBatch, now: Date): ChangeEvent[] {
  const steps = applySteps(tx, batch, now);
  let next = steps.next();
  while (!next.done) {
    if (next.value instanceof Promise) {
      throw new TypeError("applyBatchSync() was given a transaction that answers with promises.");
    }
    next = steps.next(next.value);
  }
  return next.value;
}

/**
 * Hands a read or write to the driver (`applyBatch()` or `applyBatchSync()`) and takes back its
 * answer: the algorithm below is written once for engines that answer at once and engines that
 * answer with promises.
 */
function* step<T>(value: Awaitable<T>): Generator<Awaitable<unknown>, T, unknown> {
  return (yield value) as T;
}

/** The apply algorithm: what to read, what `diffArticles()` decides, what to write, in order. */
function* applySteps(
  tx: ApplyTransaction,
  { files, gone, final }: ScanBatch,
  now: Date,
): Generator<Awaitable<unknown>, ChangeEvent[], unknown> {
  if (final) yield* step(tx.recordFirstScan(now));
  const good = files.flatMap((f) => (f.kind === "parsed" ? [f] : []));
  const parsed = good.map((f) => f.article);
  const links = yield* step(tx.links([...files.map(pathOf), ...gone]));
  const due = final ? yield* step(tx.due(now)) : [];

  // A bad file keeps its last good version published; only its stamp and problem change.
  const bad = files.flatMap((f) => (f.kind === "skipped" ? [f] : []));
  yield* step(
    tx.putFiles(
      bad.map(({ stamp, skipped: { path, reason } }) => ({
        path,
        stamp,
        articleId: links.get(path),
        problem: reason,
      })),
    ),
  );
  const vanishedIds = gone.flatMap((path) => links.get(path) ?? []);
  if (parsed.length === 0 && (!final || vanishedIds.length === 0) && due.length === 0) {
    if (final) yield* step(tx.deleteFiles(gone));
    return [];
  }

  const pathIds = parsed.flatMap((p) => links.get(p.path) ?? []);
  const known = yield* step(tx.byIds([...new Set([...pathIds, ...vanishedIds])]));
  // In the order the engine answered, as when each list was read on its own.
  const liveOf = (ids: readonly string[]) => {
    const wanted = new Set(ids);
    return known.filter((r) => r.state !== "deleted" && wanted.has(r.article.id));
  };
  const slugOwner = yield* step(tx.slugOwners([...new Set(parsed.map((p) => p.slug))]));
  const result = diffArticles({
    parsed,
    byPath: new Map(liveOf(pathIds).map((r) => [r.article.path, r])),
    vanished: liveOf(vanishedIds),
    final,
    due,
    slugOwner,
    now,
    newId: () => newArticleId(),
  });

  yield* step(tx.putArticles(result.writes));
  yield* step(
    tx.putFiles(
      good.map(({ stamp, article: { path } }) => ({
        path,
        stamp,
        articleId: result.links.get(path),
        problem: undefined,
      })),
    ),
  );
  // A renamed file's old path is settled now; the other gone paths with the last batch.
  yield* step(
    tx.deleteFiles(final ? gone : gone.filter((path) => result.claimed.has(links.get(path) ?? ""))),
  );
  const seqs = yield* step(tx.appendEvents(result.changes, now));
  return result.changes.map((change, i) => ({ ...change, seq: seqs[i] ?? Number.NaN, at: now }));
}

function pathOf(file: ScannedFile): string {
  return file.kind === "parsed" ? file.article.path : file.skipped.path;
}
