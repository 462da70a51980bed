/**
 * The article store's tables in SQLite (`articles.ts`), created at open when missing and
 * brought up to date: the `updated` column and the tag table came with issue #17, so that
 * the last change and a tag's articles are index look-ups, not a `json_extract` scan of
 * every article.
 */
import type { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import type { Article } from "../../article.ts";
import { type StoredArticle, tagKey } from "../../store/store.ts";

const logger = getLogger(["herald", "store"]);

/**
 * The `data` of a change event that holds no copy of its article: the article's row (by
 * `article_id`) is the article as the event saw it, until `putArticles()` changes that row
 * and copies it into the event first. A first import of 100,000 stories then writes each
 * story once instead of twice (issue #17).
 */
export const REFERS_TO_ARTICLE = "";

const tables = `
  CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ms REAL NOT NULL,
    article_id TEXT,
    problem TEXT
  ) STRICT;
  CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    state TEXT NOT NULL,
    explicit_slug INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    published TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated TEXT,
    data TEXT NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS articles_slug ON articles (slug);
  CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS cursors (
    subscriber TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
  ) STRICT;
`;

/**
 * What lists and dates the published set: a covering index for the newest articles' slugs and
 * dates (the sitemap reads no article's text), one for the last change, and each article's
 * tags (by `tagKey()`) with the columns a tag page and its feeds order and filter by.
 */
const indexes = `
  CREATE INDEX IF NOT EXISTS articles_listing ON articles (state, published, id, slug, updated);
  CREATE INDEX IF NOT EXISTS articles_state_updated ON articles (state, updated);
  DROP INDEX IF EXISTS articles_state_published;
  CREATE TABLE IF NOT EXISTS article_tags (
    tag_key TEXT NOT NULL,
    article_id TEXT NOT NULL,
    state TEXT NOT NULL,
    published TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (tag_key, article_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS article_tags_listing ON article_tags (tag_key, state, published);
  CREATE INDEX IF NOT EXISTS article_tags_updated ON article_tags (tag_key, state, updated);
  CREATE INDEX IF NOT EXISTS article_tags_article ON article_tags (article_id);
  CREATE INDEX IF NOT EXISTS events_by_reference ON events (article_id) WHERE data = '';
`;

/**
 * Creates the tables if missing and migrates a store made before the `updated` column and the
 * tag table, in one transaction. Needs the `herald_tag_key()` SQL function registered.
 */
export function createArticleTables(db: DatabaseSync): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(tables);
    const columns = db.prepare("SELECT name FROM pragma_table_info('articles')").all() as {
      name: string;
    }[];
    if (!columns.some((c) => c.name === "updated")) {
      db.exec("ALTER TABLE articles ADD COLUMN updated TEXT");
    }
    const eventColumns = db.prepare("SELECT name FROM pragma_table_info('events')").all() as {
      name: string;
    }[];
    if (!eventColumns.some((c) => c.name === "article_id")) {
      db.exec("ALTER TABLE events ADD COLUMN article_id TEXT");
    }
    const tagged = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'article_tags'").get();
    db.exec(indexes);
    const filled = tagged === undefined ? migrate(db) : 0;
    db.exec("COMMIT");
    if (filled > 0) {
      logger.info("Indexed the dates and tags of {count} stored articles (once).", {
        count: filled,
      });
    }
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** Fills the `updated` column and the tag table from the stored articles' JSON. */
function migrate(db: DatabaseSync): number {
  db.exec("UPDATE articles SET updated = json_extract(data, '$.updated') WHERE updated IS NULL");
  db.exec(`
    INSERT OR IGNORE INTO article_tags (tag_key, article_id, state, published, updated)
    SELECT herald_tag_key(tag.value), a.id, a.state, a.published, a.updated
    FROM articles AS a, json_each(a.data, '$.tags') AS tag
    WHERE tag.type = 'text'`);
  return (db.prepare("SELECT count(*) AS n FROM articles").get() as { n: number }).n;
}

/**
 * Inserts or replaces each article (keeping `first_seen`) and its rows in the tag table. A
 * change event that refers to an article's row instead of holding a copy (`REFERS_TO_ARTICLE`)
 * gets its copy first, so that every event keeps the article as it was.
 */
export function putArticles(
  db: DatabaseSync,
  records: readonly StoredArticle[],
  encode: (article: Article) => string,
): void {
  const put = db.prepare(
    `INSERT INTO articles (id, slug, state, explicit_slug, first_seen, published, hash, updated, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, state = excluded.state,
       explicit_slug = excluded.explicit_slug, published = excluded.published,
       hash = excluded.hash, updated = excluded.updated, data = excluded.data`,
  );
  const keepEvents = db.prepare(
    `UPDATE events SET data = (SELECT data FROM articles WHERE id = ?1)
     WHERE data = '' AND article_id = ?1`,
  );
  const untag = db.prepare("DELETE FROM article_tags WHERE article_id = ?");
  const tag = db.prepare(
    `INSERT OR IGNORE INTO article_tags (tag_key, article_id, state, published, updated)
     VALUES (?, ?, ?, ?, ?)`,
  );
  for (const { article, state, explicitSlug, firstSeen } of records) {
    const published = article.published.toISOString();
    const updated = article.updated.toISOString();
    keepEvents.run(article.id);
    put.run(
      article.id,
      article.slug,
      state,
      explicitSlug ? 1 : 0,
      firstSeen.toISOString(),
      published,
      article.hash,
      updated,
      encode(article),
    );
    untag.run(article.id);
    for (const key of new Set(article.tags.map(tagKey))) {
      tag.run(key, article.id, state, published, updated);
    }
  }
}
