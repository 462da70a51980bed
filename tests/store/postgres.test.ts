import { describe } from "vitest";
import { postgresAvailable, postgresStore, testDatabaseUrl } from "../helpers/postgres.ts";
import { describeArticleStore } from "./store-contract.ts";

describe.runIf(postgresAvailable)("PostgreSQL", () => {
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
