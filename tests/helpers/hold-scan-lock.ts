// A second process for the store contract: opens a store on the data named by its
// arguments, takes the scan lock, says so on stdout, and holds it until it is killed.
//   node hold-scan-lock.ts sqlite FILE
//   node hold-scan-lock.ts postgres URL SCHEMA
import { DatabaseSync } from "node:sqlite";
import { openPostgresArticleStore } from "../../src/backends/postgres/articles.ts";
import { SqliteArticleStore } from "../../src/backends/sqlite/articles.ts";

const [kind, location = "", schema] = process.argv.slice(2);
const store =
  kind === "sqlite"
    ? new SqliteArticleStore(new DatabaseSync(location))
    : await openPostgresArticleStore(new URL(location), schema ? { schema } : {});
const lock = await store.tryLockScan();
process.stdout.write(lock ? "locked\n" : "busy\n");
setInterval(() => {}, 60_000);
