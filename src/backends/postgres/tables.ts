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
    const [row] = await tx<{ schema: string | null; found: boolean }[]>`
      SELECT current_schema() AS schema, to_regclass(${`"${table}"`}) IS NOT NULL AS found`;
    if (row?.schema == null) {
      throw new Error("PostgreSQL has no current schema: none on the search_path exists.");
    }
    if (!row.found) await tx.unsafe(ddl).simple();
    return row.schema;
  });
}
