/**
 * The article store's tables in PostgreSQL (`articles.ts`), created at open when missing and
 * brought up to date (the tag-key index and the `updated` column came after the first release).
 */
import type postgres from "postgres";

// Names carry a `herald_` prefix: the database may be shared (Fedify's tables, other apps).
// `C` collation orders ids and paths by code point, as SQLite does.
const tables = `
  CREATE TABLE IF NOT EXISTS herald_files (
    path text COLLATE "C" PRIMARY KEY,
    size bigint NOT NULL,
    mtime_ms double precision NOT NULL,
    article_id text,
    problem text
  );
  CREATE TABLE IF NOT EXISTS herald_articles (
    id text COLLATE "C" PRIMARY KEY,
    slug text NOT NULL,
    state text NOT NULL CHECK (state IN ('published', 'scheduled', 'draft', 'deleted')),
    explicit_slug boolean NOT NULL,
    first_seen timestamptz NOT NULL,
    published timestamptz NOT NULL,
    hash text NOT NULL,
    data jsonb NOT NULL
  );
  CREATE INDEX IF NOT EXISTS herald_articles_slug ON herald_articles (slug);
  CREATE INDEX IF NOT EXISTS herald_articles_slug_base
    ON herald_articles ((regexp_replace(slug, '-[0-9]+$', '')));
  CREATE INDEX IF NOT EXISTS herald_articles_state_published
    ON herald_articles (state, published);
  CREATE TABLE IF NOT EXISTS herald_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    type text NOT NULL,
    data text NOT NULL
  );
  CREATE TABLE IF NOT EXISTS herald_cursors (
    subscriber text PRIMARY KEY,
    seq bigint NOT NULL
  );
  CREATE TABLE IF NOT EXISTS herald_meta (
    key text PRIMARY KEY,
    value text NOT NULL
  );
`;

// Tags compare by their lower case (fediverse hashtags are case-insensitive; see `tagKey()`),
// through an index on the lowered list. Added after the first release: also run on stores
// created before, replacing the index on the tags as written.
const tagKeys = `
  CREATE OR REPLACE FUNCTION herald_tag_keys(tags jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT ARRAY(SELECT lower(tag) FROM jsonb_array_elements_text(tags) AS tag)';
  CREATE INDEX IF NOT EXISTS herald_articles_tag_keys
    ON herald_articles USING gin (herald_tag_keys(data -> 'tags'));
  DROP INDEX IF EXISTS herald_articles_tags;
`;

// The `updated` column (issue #17): the last change is an index look-up, not a read of every
// article's JSON. Added after the first release: also run on stores created before, once.
const updatedColumn = `
  ALTER TABLE herald_articles ADD COLUMN IF NOT EXISTS updated timestamptz;
  UPDATE herald_articles SET updated = (data ->> 'updated')::timestamptz WHERE updated IS NULL;
  CREATE INDEX IF NOT EXISTS herald_articles_state_updated ON herald_articles (state, updated);
`;

/**
 * The connection's current schema: the first on its search path (`?search_path=…` on the URL,
 * or the `schema` option) that exists. PostgreSQL would only say "no schema has been selected
 * to create in".
 */
async function currentSchema(tx: postgres.ISql): Promise<string> {
  const [row] = await tx<{ schema: string | null }[]>`SELECT current_schema() AS schema`;
  if (row?.schema == null) {
    throw new Error("PostgreSQL has no current schema: none on the search_path exists.");
  }
  return row.schema;
}

/** Creates the schema and tables if missing; answers the schema they are in. */
export async function createArticleTables(
  sql: postgres.Sql,
  schema: string | undefined,
): Promise<string> {
  return await sql.begin(async (tx) => {
    // Two processes starting at once would race on `IF NOT EXISTS` (a unique violation in
    // the catalog); one lock for the whole database is plenty for a few statements at start.
    await tx`SELECT pg_advisory_xact_lock(hashtextextended('herald:ddl', 0))`;
    // Creating anything needs the CREATE privilege even when it exists: look first, so a
    // role that may only read and write the tables can start once they are there.
    const [found] = await tx<{ found: boolean }[]>`
      SELECT to_regclass('herald_meta') IS NOT NULL AS found`;
    if (found?.found !== true) {
      if (schema !== undefined) await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await currentSchema(tx);
      await tx.unsafe(tables).simple();
    }
    const [keyed] = await tx<{ found: boolean }[]>`
      SELECT to_regclass('herald_articles_tag_keys') IS NOT NULL AS found`;
    if (keyed?.found !== true) await tx.unsafe(tagKeys).simple();
    const [dated] = await tx<{ found: boolean }[]>`
      SELECT to_regclass('herald_articles_state_updated') IS NOT NULL AS found`;
    if (dated?.found !== true) await tx.unsafe(updatedColumn).simple();
    return await currentSchema(tx);
  });
}
