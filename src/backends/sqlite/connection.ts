import type { DatabaseSync } from "node:sqlite";

/** Busy timeout set on a connection that has none, so a short write by another process is waited for. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/**
 * Puts the file in WAL mode (readers never block the writer; the setting is stored in the
 * file) and sets a busy timeout if the connection has none. A value the composition root
 * set already is kept.
 */
export function tuneConnection(db: DatabaseSync): void {
  const mode = db.prepare("PRAGMA journal_mode").get()?.journal_mode;
  // An in-memory database answers "memory" and cannot use WAL; leave it alone.
  if (mode !== "wal" && mode !== "memory") db.exec("PRAGMA journal_mode = WAL");
  const timeout = db.prepare("PRAGMA busy_timeout").get()?.timeout;
  if (timeout === 0) db.exec(`PRAGMA busy_timeout = ${DEFAULT_BUSY_TIMEOUT_MS}`);
}

/**
 * Runs `work` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front (waiting
 * out the busy timeout), so what `work` reads cannot change under it before it writes.
 * `work` must be synchronous; the connection is shared, so no transaction may span an `await`.
 * Inside a transaction of the caller's (a bulk import, as the benchmarks seed their followers),
 * `work` is part of it: the caller commits or rolls back.
 */
export function immediate<T>(db: DatabaseSync, work: () => T): T {
  if (db.isTransaction) return work();
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}
