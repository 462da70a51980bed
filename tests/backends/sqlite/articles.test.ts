import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { SqliteArticleStore } from "../../../src/backends/sqlite/articles.ts";
import { tempDir } from "../../helpers/articles.ts";

/** The articles table as releases before issue #17 made it: no `updated`, no tag table. */
const oldSchema = `
  CREATE TABLE articles (
    id TEXT PRIMARY KEY, slug TEXT NOT NULL, state TEXT NOT NULL,
    explicit_slug INTEGER NOT NULL, first_seen TEXT NOT NULL, published TEXT NOT NULL,
    hash TEXT NOT NULL, data TEXT NOT NULL
  ) STRICT;
  CREATE INDEX articles_state_published ON articles (state, published);
`;

function oldRow(id: string, state: string, published: string, updated: string, tags: string[]) {
  const data = JSON.stringify({ id, slug: id, published, updated, tags, title: id });
  return [id, id, state, 0, published, published, `hash-${id}`, data] as const;
}

describe("SqliteArticleStore", () => {
  it("migrates a store made before the updated column and the tag table, once", () => {
    const file = join(tempDir("herald-data-"), "herald.sqlite");
    const old = new DatabaseSync(file);
    old.exec(oldSchema);
    const insert = old.prepare("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert.run(
      ...oldRow("a", "published", "2026-01-01T00:00:00.000Z", "2026-01-05T00:00:00.000Z", [
        "Haushalt",
      ]),
    );
    insert.run(
      ...oldRow("b", "published", "2026-01-02T00:00:00.000Z", "2026-01-02T00:00:00.000Z", [
        "haushalt",
        "Rat",
      ]),
    );
    insert.run(
      ...oldRow("c", "deleted", "2026-01-03T00:00:00.000Z", "2026-01-09T00:00:00.000Z", ["rat"]),
    );
    old.close();

    return (async () => {
      for (let open = 0; open < 2; open++) {
        const store = new SqliteArticleStore(new DatabaseSync(file));
        expect(await store.lastChange()).toEqual(new Date("2026-01-09T00:00:00Z"));
        expect(await store.lastChange("HAUSHALT")).toEqual(new Date("2026-01-05T00:00:00Z"));
        expect(await store.lastChange("Rat")).toEqual(new Date("2026-01-09T00:00:00Z"));
        expect((await store.listPublished({ tag: "haushalt" })).map((a) => a.id)).toEqual([
          "b",
          "a",
        ]);
        expect((await store.listPublished({ tag: "rat" })).map((a) => a.id)).toEqual(["b"]);
        expect(await store.listPublishedLinks(5)).toEqual([
          { slug: "b", updated: new Date("2026-01-02T00:00:00Z") },
          { slug: "a", updated: new Date("2026-01-05T00:00:00Z") },
        ]);
        await store.close();
      }
    })();
  });

  it("keeps the pending events of a store made before events could refer to their article", async () => {
    const file = join(tempDir("herald-data-"), "herald.sqlite");
    const old = new DatabaseSync(file);
    old.exec(`${oldSchema}
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, type TEXT NOT NULL,
        data TEXT NOT NULL
      ) STRICT;
      CREATE TABLE cursors (subscriber TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
      INSERT INTO cursors VALUES ('feeds', 6);`);
    const row = oldRow(
      "a",
      "published",
      "2026-01-01T00:00:00.000Z",
      "2026-01-05T00:00:00.000Z",
      [],
    );
    old.prepare("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)").run(...row);
    old
      .prepare("INSERT INTO events (seq, at, type, data) VALUES (7, ?, 'created', ?)")
      .run("2026-01-05T00:00:00.000Z", row[7]);
    old.close();
    for (let open = 0; open < 2; open++) {
      const store = new SqliteArticleStore(new DatabaseSync(file));
      const [event, ...more] = await store.pending("feeds");
      expect(more).toEqual([]);
      expect({ seq: event?.seq, type: event?.type, id: event?.article.id }).toEqual({
        seq: 7,
        type: "created",
        id: "a",
      });
      expect(event?.article.updated).toEqual(new Date("2026-01-05T00:00:00Z"));
      await store.close();
    }
  });

  it("answers the last change and a tag's articles from indexes, not a scan of the articles", () => {
    const db = new DatabaseSync(":memory:");
    const store = new SqliteArticleStore(db);
    const plan = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[])
        .map((row) => row.detail)
        .join("; ");
    expect(plan("SELECT max(updated) FROM articles WHERE state = 'published'")).toMatch(
      /USING COVERING INDEX/,
    );
    expect(
      plan("SELECT max(updated) FROM article_tags WHERE state = 'published' AND tag_key = 'x'"),
    ).toMatch(/USING COVERING INDEX/);
    expect(
      plan(`SELECT slug, updated FROM articles INDEXED BY articles_listing
            WHERE state = 'published' ORDER BY published DESC, id LIMIT 10`),
    ).toMatch(/USING COVERING INDEX articles_listing/);
    return store.close();
  });

  it("gives a new database 16 KiB pages, keeps an existing one's, and checkpoints every 64 MiB of log", async () => {
    const dir = tempDir("herald-data-");
    const made = new DatabaseSync(join(dir, "made-before.sqlite"));
    made.exec("PRAGMA page_size = 4096; CREATE TABLE kept (x)");
    made.close();
    const pragmas = (db: DatabaseSync) => ({
      pageSize: db.prepare("PRAGMA page_size").get()?.page_size,
      checkpointPages: db.prepare("PRAGMA wal_autocheckpoint").get()?.wal_autocheckpoint,
      journal: db.prepare("PRAGMA journal_mode").get()?.journal_mode,
    });
    const opened = [];
    for (const name of ["new.sqlite", "made-before.sqlite"]) {
      const db = new DatabaseSync(join(dir, name));
      const store = new SqliteArticleStore(db);
      opened.push(pragmas(db));
      await store.close();
    }
    expect(opened).toEqual([
      { pageSize: 16384, checkpointPages: 4096, journal: "wal" },
      { pageSize: 4096, checkpointPages: 16384, journal: "wal" },
    ]);
  });
});
