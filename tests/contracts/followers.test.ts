import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe } from "vitest";
import { openPostgresFollowerStore } from "../../src/backends/postgres/followers.ts";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import { freshPostgresSchema, postgresAvailable } from "../helpers/backends.ts";
import { followerStoreContract } from "./followers.ts";

followerStoreContract("SQLite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "herald-followers-"));
  const db = new DatabaseSync(join(dir, "herald.sqlite"));
  return {
    store: openSqliteFollowerStore(db),
    section: openSqliteFollowerStore(db, "politik"),
    close: async () => {
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  followerStoreContract("PostgreSQL", async () => {
    const schema = await freshPostgresSchema();
    const sql = schema.connect();
    return {
      store: await openPostgresFollowerStore(sql),
      section: await openPostgresFollowerStore(sql, "politik"),
      close: () => schema.dispose(),
    };
  });
});
