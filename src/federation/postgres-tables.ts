import type postgres from "postgres";

/**
 * Runs `ddl` unless `table` exists already in the connection's current schema; answers that
 * schema. Safe when several processes start at once, and needs no CREATE privilege once the
 * tables are there (the same scheme as the article store's).
 */
export async function createTablesOnce(
  sql: postgres.Sql,
  table: string,
  ddl: string,
): Promise<string> {
  return await sql.begin(async (tx) => {
    // Two processes starting at once would race on `IF NOT EXISTS` (a unique violation in
    // the catalog); one lock for the whole database is plenty for a few statements at start.
    await tx`SELECT pg_advisory_xact_lock(hashtextextended('herald:ddl', 0))`;
    const [found] = await tx<{ found: boolean }[]>`
      SELECT to_regclass(${`"${table}"`}) IS NOT NULL AS found`;
    if (found?.found !== true) await tx.unsafe(ddl).simple();
    const [row] = await tx<{ schema: string | null }[]>`SELECT current_schema() AS schema`;
    if (row?.schema == null) throw new Error("PostgreSQL has no current schema to create in.");
    return row.schema;
  });
}
