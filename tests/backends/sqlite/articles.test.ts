import { describeArticleStore } from "../../contracts/articles.ts";
import { sqliteStore } from "../../helpers/articles.ts";

describeArticleStore("SqliteArticleStore", async () => {
  const fixture = sqliteStore();
  return {
    store: fixture.store,
    reopen: () => fixture.reopen(),
    another: async () => sqliteStore(fixture.file).store,
    holderArgs: ["sqlite", fixture.file],
  };
});
