import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { openPostgresInteractionStore } from "../../src/backends/postgres/interactions.ts";
import { openSqliteInteractionStore } from "../../src/backends/sqlite/interactions.ts";
import { freshPostgresSchema, postgresAvailable } from "../helpers/backends.ts";
import { interactionStoreContract } from "./interactions.ts";

interactionStoreContract("SQLite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "herald-interactions-"));
  const db = new DatabaseSync(join(dir, "herald.sqlite"));
  // As the article store sets it on the shared connection (`backends/sqlite/articles.ts`).
  db.exec("PRAGMA synchronous = NORMAL");
  return {
    store: async (options) => openSqliteInteractionStore(db, options),
    close: async () => {
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  interactionStoreContract("PostgreSQL", async () => {
    const schema = await freshPostgresSchema();
    const sql = schema.connect();
    return {
      store: (options) => openPostgresInteractionStore(sql, options),
      close: () => schema.dispose(),
    };
  });
});

/** A reply stored before replies could be held: the table had no `status` column. */
const oldRow = {
  id: "https://a.test/users/alice/statuses/1",
  actor: "https://a.test/users/alice",
  body: JSON.stringify({
    kind: "reply",
    id: "https://a.test/users/alice/statuses/1",
    actor: { id: "https://a.test/users/alice" },
    contentHtml: "<p>Old</p>",
    published: "2026-11-01T08:00:00.000Z",
  }),
};
const newReply = {
  kind: "reply" as const,
  id: "https://b.test/users/bob/statuses/1",
  actor: { id: "https://b.test/users/bob" },
  contentHtml: "<p>New</p>",
  published: "2026-12-01T08:00:00.000Z",
};

describe("a database from before replies could be held", () => {
  it("SQLite: gets the status column, and its replies stay shown", async () => {
    const db = new DatabaseSync(":memory:");
    db.exec(`
      CREATE TABLE federation_interactions (id TEXT PRIMARY KEY, actor_id TEXT NOT NULL,
        article_id TEXT NOT NULL, kind TEXT NOT NULL, published TEXT NOT NULL,
        server TEXT NOT NULL, handle TEXT, body TEXT NOT NULL) STRICT;
      CREATE TABLE federation_interaction_counts (article_id TEXT NOT NULL, kind TEXT NOT NULL,
        count INTEGER NOT NULL, PRIMARY KEY (article_id, kind)) STRICT, WITHOUT ROWID;
      INSERT INTO federation_interaction_counts VALUES ('a1', 'reply', 1);`);
    db.prepare(
      "INSERT INTO federation_interactions VALUES (?, ?, 'a1', 'reply', '2026-11-01', 'a.test', NULL, ?)",
    ).run(oldRow.id, oldRow.actor, oldRow.body);
    const store = openSqliteInteractionStore(db, { replies: "review" });
    openSqliteInteractionStore(db, { replies: "review" }); // a second open changes nothing
    expect(await store.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0, quotes: 0 });
    expect((await store.listReplies("a1", { limit: 5 })).map((r) => r.id)).toEqual([oldRow.id]);
    expect(await store.add("a1", newReply)).toBe("held");
    expect((await store.held()).map((h) => h.reply.id)).toEqual([newReply.id]);
  });

  it.skipIf(!postgresAvailable)(
    "PostgreSQL: gets the status column, and its replies stay shown",
    async () => {
      const schema = await freshPostgresSchema();
      try {
        const sql = schema.connect();
        await sql.unsafe(`
        CREATE TABLE herald_interactions (id text PRIMARY KEY, actor_id text NOT NULL,
          article_id text NOT NULL, kind text NOT NULL, published text NOT NULL,
          server text NOT NULL, handle text, body text NOT NULL);
        CREATE TABLE herald_interaction_counts (article_id text NOT NULL, kind text NOT NULL,
          count integer NOT NULL, PRIMARY KEY (article_id, kind));
        CREATE TABLE herald_interaction_quota (server text NOT NULL, day text NOT NULL,
          count integer NOT NULL, PRIMARY KEY (server, day));
        CREATE TABLE herald_interactions_changed (one integer PRIMARY KEY, at timestamptz NOT NULL);
        INSERT INTO herald_interaction_counts VALUES ('a1', 'reply', 1);`);
        await sql`
        INSERT INTO herald_interactions VALUES (${oldRow.id}, ${oldRow.actor}, 'a1', 'reply',
          '2026-11-01', 'a.test', NULL, ${oldRow.body})`;
        const [store] = await Promise.all([
          openPostgresInteractionStore(sql, { replies: "review" }),
          openPostgresInteractionStore(schema.connect(), { replies: "review" }),
        ]);
        expect(await store.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0, quotes: 0 });
        expect((await store.listReplies("a1", { limit: 5 })).map((r) => r.id)).toEqual([oldRow.id]);
        expect(await store.add("a1", newReply)).toBe("held");
        expect((await store.held()).map((h) => h.reply.id)).toEqual([newReply.id]);
      } finally {
        await schema.dispose();
      }
    },
  );
});
