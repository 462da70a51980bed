import { describe } from "vitest";
import { sqliteStore } from "../helpers/articles.ts";
import { postgresAvailable, postgresStore, testDatabaseUrl } from "../helpers/postgres.ts";
import { describeArticleStore } from "./articles.ts";

describeArticleStore("SqliteArticleStore", async () => {
  const fixture = sqliteStore();
  return {
    store: fixture.store,
    reopen: () => fixture.reopen(),
    another: async () => sqliteStore(fixture.file).store,
    holderArgs: ["sqlite", fixture.file],
  };
});

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  describeArticleStore("PostgresArticleStore", async () => {
    const fixture = await postgresStore();
    return {
      store: fixture.store,
      reopen: () => fixture.reopen(),
      another: () => fixture.another(),
      holderArgs: ["postgres", testDatabaseUrl.href, fixture.schema],
    };
  });
});
