import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe } from "vitest";
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
