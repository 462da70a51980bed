/**
 * Where Herald keeps its state, opened as the configuration says: the article store, Fedify's
 * KV store and delivery queue, the followers, the replies, likes and boosts, and the delivery
 * ledger, in the embedded SQLite database or in PostgreSQL (and Redis). Shared by `npm start` and the commands that act as
 * the account (`npm run move`), so that both see the same state.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import {
  connectPostgres,
  type FederationBackendsOptions,
  openFederationBackends,
} from "./backends/open.ts";
import { openPostgresArticleStore } from "./backends/postgres/articles.ts";
import { openPostgresFollowerStore } from "./backends/postgres/followers.ts";
import { openPostgresInteractionStore } from "./backends/postgres/interactions.ts";
import { openPostgresDeliveryLedger } from "./backends/postgres/ledger.ts";
import { SqliteArticleStore } from "./backends/sqlite/articles.ts";
import { openSqliteFollowerStore } from "./backends/sqlite/followers.ts";
import { openSqliteInteractionStore } from "./backends/sqlite/interactions.ts";
import { openSqliteDeliveryLedger } from "./backends/sqlite/ledger.ts";
import type { Config } from "./config.ts";
import { trackDeliveries } from "./federation/delivery/tracking.ts";
import { importKvInteractions } from "./federation/interactions/legacy.ts";
import type { InteractionStoreOptions } from "./federation/interactions/store.ts";
import type { ArticleStore } from "./store/store.ts";

const logger = getLogger(["herald"]);

/**
 * For moving interactions from the KV store: every one kept, and dated at the epoch so
 * that the move spends no server's quota of today.
 */
const UNLIMITED: InteractionStoreOptions = {
  maxPerArticle: Number.POSITIVE_INFINITY,
  maxRepliesPerActor: Number.POSITIVE_INFINITY,
  maxRepliesPerServerPerDay: Number.POSITIVE_INFINITY,
  now: () => new Date(0),
};

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
  const followers = sql ? await openPostgresFollowerStore(sql) : openSqliteFollowerStore(db);
  const ledger = sql ? await openPostgresDeliveryLedger(sql) : openSqliteDeliveryLedger(db);
  const openInteractions = (limits: InteractionStoreOptions) =>
    sql ? openPostgresInteractionStore(sql, limits) : openSqliteInteractionStore(db, limits);
  const interactions = await openInteractions({ hide: config.hideReactionsFrom });
  const moved = await importKvInteractions(backends.kv, await openInteractions(UNLIMITED));
  if (moved > 0) {
    logger.info("Moved {count} replies, likes and boosts to their own tables.", { count: moved });
  }
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
