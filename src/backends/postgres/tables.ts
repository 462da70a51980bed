import { getLogger } from "@logtape/logtape";
import type postgres from "postgres";

const logger = getLogger(["herald", "store"]);

const DDL_LOCK = "herald:ddl";

/**
 * Runs `ddl` unless `table` exists already in the connection's current schema; answers that
 * schema. Safe when several processes start at once, and needs no CREATE privilege once the
 * tables are there (the same scheme as the article store's). `fill`, if given, runs right after
 * `ddl` in the same transaction: a table added in a later version is filled from the others
 * once, and no process sees it made but empty.
 */
export async function createTablesOnce(
  sql: postgres.Sql,
  table: string,
  ddl: string,
  fill?: (tx: postgres.TransactionSql) => Promise<void>,
): Promise<string> {
  return await sql.begin(async (tx) => {
    // Two processes starting at once would race on `IF NOT EXISTS` (a unique violation in
    // the catalog); one lock for the whole database is plenty for a few statements at start.
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${DDL_LOCK}, 0))`;
    const [row] = await tx<{ schema: string | null; found: boolean }[]>`
      SELECT current_schema() AS schema, to_regclass(${`"${table}"`}) IS NOT NULL AS found`;
    if (row?.schema == null) {
      throw new Error("PostgreSQL has no current schema: none on the search_path exists.");
    }
    if (!row.found) {
      await tx.unsafe(ddl).simple();
      await fill?.(tx);
    }
    return row.schema;
  });
}

/**
 * Runs `ddl` (which adds `column` to `table`, and whatever goes with it) unless the column is
 * there already; under the same lock as `createTablesOnce()`, so processes starting at once
 * migrate once.
 */
export async function addColumnOnce(
  sql: postgres.Sql,
  table: string,
  column: string,
  ddl: string,
): Promise<void> {
  await runUnless(sql, ddl, async (tx) => {
    const [row] = await tx<{ found: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = ${table}
          AND column_name = ${column}) AS found`;
    return row?.found === true;
  });
}

/**
 * Runs `ddl` (which creates the index `index`) unless the index exists, under the same lock: an
 * index added in a later version, for a table an earlier one made. Without the privilege to
 * create it, Herald works on without it (slower) and says so.
 */
export async function addIndexOnce(sql: postgres.Sql, index: string, ddl: string): Promise<void> {
  const refused = (error: unknown) =>
    logger.warn("Could not create the index {index}, and work on without it: {error}", {
      index,
      error,
    });
  await runUnless(
    sql,
    ddl,
    async (tx) => {
      const [row] = await tx<{ found: boolean }[]>`
        SELECT to_regclass(${`"${index}"`}) IS NOT NULL AS found`;
      return row?.found === true;
    },
    refused,
  );
}

/**
 * Runs `ddl` unless `done` says it has run; asked again under the DDL lock before it runs, so
 * that processes starting at once run it once, and a process finding it done takes no lock.
 * With `refused`, a failure to run it is handed there instead of thrown.
 */
async function runUnless(
  sql: postgres.Sql,
  ddl: string,
  done: (tx: postgres.TransactionSql | postgres.Sql) => Promise<boolean>,
  refused?: (error: unknown) => void,
): Promise<void> {
  if (await done(sql)) return;
  const run = sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${DDL_LOCK}, 0))`;
    if (!(await done(tx))) await tx.unsafe(ddl).simple();
  });
  await (refused === undefined ? run : run.catch(refused));
}
