/**
 * Where Herald keeps its state, opened as the configuration says: the article store, Fedify's
 * KV store and delivery queue, the followers, the interactions and the delivery ledger, in the embedded SQLite
 * database or in PostgreSQL (and Redis). Shared by `npm start` and the commands that act as
 * the account (`npm run move`), so that both see the same state.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Config } from "./config.ts";
import {
  connectPostgres,
  type FederationBackendsOptions,
  openFederationBackends,
} from "./federation/backends.ts";
import { createSqliteDeliveryLedger } from "./federation/delivery-ledger.ts";
import { trackDeliveries } from "./federation/delivery-tracking.ts";
import { createSqliteFollowerStore } from "./federation/followers.ts";
import { openPostgresDeliveryLedger } from "./federation/postgres-delivery-ledger.ts";
import { openPostgresFollowerStore } from "./federation/postgres-followers.ts";
import { openPostgresInteractionStore } from "./federation/postgres-interactions.ts";
import { createSqliteInteractionStore } from "./federation/sqlite-interactions.ts";
import { openPostgresArticleStore } from "./store/postgres.ts";
import { SqliteArticleStore } from "./store/sqlite.ts";
import type { ArticleStore } from "./store/store.ts";

export type Stores = Awaited<ReturnType<typeof openStores>>;

export async function openStores(config: Config, options: FederationBackendsOptions = {}) {
  const db = new DatabaseSync(join(config.dataDir, "herald.sqlite"));
  const store: ArticleStore = config.databaseUrl
    ? await openPostgresArticleStore(config.databaseUrl)
    : new SqliteArticleStore(db);
  // One pool for the federation's tables (KV store, queue, followers); the article store has its own.
  const sql = config.databaseUrl ? connectPostgres(config.databaseUrl) : undefined;
  const backends = await openFederationBackends(
    { databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, dataDb: db, postgres: sql },
    options,
  );
  const followers = sql ? await openPostgresFollowerStore(sql) : createSqliteFollowerStore(db);
  const ledger = sql ? await openPostgresDeliveryLedger(sql) : createSqliteDeliveryLedger(db);
  const hide = { hide: config.hideReactionsFrom };
  const interactions = sql
    ? await openPostgresInteractionStore(sql, hide)
    : createSqliteInteractionStore(db, hide);
  return {
    store,
    backends,
    kv: backends.kv,
    followers,
    /** Replies, likes and boosts from the fediverse. */
    interactions,
    /** The queue, recording each delivery in the ledger (for the log and `npm run doctor`). */
    deliveries: trackDeliveries(backends.queue, ledger),
    /** Ends every connection; stop the queue's listeners first. */
    async close(): Promise<void> {
      await backends.close();
      await sql?.end({ timeout: 5 });
      await store.close();
      if (db.isOpen) db.close();
    },
  };
}
