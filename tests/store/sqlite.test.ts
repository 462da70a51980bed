import { sqliteStore } from "../helpers/articles.ts";
import { describeArticleStore } from "./store-contract.ts";

describeArticleStore("SqliteArticleStore", async () => {
  const fixture = sqliteStore();
  return {
    store: fixture.store,
    reopen: () => fixture.reopen(),
    another: async () => sqliteStore(fixture.file).store,
    holderArgs: ["sqlite", fixture.file],
  };
});
