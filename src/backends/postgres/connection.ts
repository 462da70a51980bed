import { getLogger } from "@logtape/logtape";
import postgres from "postgres";

const logger = getLogger(["herald", "backends"]);

/**
 * The one client (a pool of connections, opened on first use) every PostgreSQL store of a
 * process shares: articles, KV store, queue, followers, interactions, delivery ledger.
 * `?search_path=…` on the URL picks the schema. 20 connections: the article store and the
 * federation's tables each had a pool of 10 before they shared one.
 */
export function connectPostgres(url: URL): postgres.Sql {
  return postgres(url.href, {
    max: 20,
    // postgres prints notices (`… already exists, skipping`) with console.log by default.
    onnotice: (notice) => logger.debug("PostgreSQL: {message}", { message: notice.message }),
    connection: { application_name: "herald" },
  });
}
