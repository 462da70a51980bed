/**
 * Where Herald keeps its state, opened as the configuration says. Each engine lives in its own
 * folder and holds what it can:
 *
 * | store                       | sqlite/ | postgres/ | redis/ |
 * |-----------------------------|---------|-----------|--------|
 * | articles, stamps, events    | yes     | yes       | no     |
 * | Fedify KV store             | yes     | yes       | yes    |
 * | delivery queue              | yes     | yes       | yes    |
 * | followers                   | yes     | yes       | no     |
 * | replies, likes, boosts      | yes     | yes       | no     |
 * | delivery ledger             | yes     | yes       | no     |
 *
 * With `DATABASE_URL` everything is in PostgreSQL, else in the embedded SQLite database;
 * `REDIS_URL` moves the KV store and the queue to Redis. One connection (or pool) per engine,
 * shared by its stores; an engine nothing uses is not opened.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { KvStore, MessageQueue, MessageQueueDepth } from "@fedify/fedify";
import type { Config } from "../config.ts";
import type { DeliveryLedger } from "../federation/delivery/ledger.ts";
import type { FollowerStore } from "../federation/followers.ts";
import type {
  InteractionStore,
  InteractionStoreOptions,
} from "../federation/interactions/store.ts";
import type { ArticleStore } from "../store/store.ts";
import type { LeaseOptions, QueueDepth } from "./lease-listener.ts";
import { openPostgresArticleStore } from "./postgres/articles.ts";
import { connectPostgres } from "./postgres/connection.ts";
import { openPostgresFollowerStore } from "./postgres/followers.ts";
import { openPostgresInteractionStore } from "./postgres/interactions.ts";
import { openPostgresKvStore } from "./postgres/kv.ts";
import { openPostgresDeliveryLedger } from "./postgres/ledger.ts";
import { openPostgresMessageQueue } from "./postgres/queue.ts";
import { withoutSecrets } from "./redact.ts";
import { connectRedis } from "./redis/connection.ts";
import { openRedisKvStore } from "./redis/kv.ts";
import { openRedisMessageQueue } from "./redis/queue.ts";
import { openSqliteArticleStore } from "./sqlite/articles.ts";
import { openSqliteFollowerStore } from "./sqlite/followers.ts";
import { openSqliteInteractionStore } from "./sqlite/interactions.ts";
import { openSqliteKvStore } from "./sqlite/kv.ts";
import { openSqliteDeliveryLedger } from "./sqlite/ledger.ts";
import { openSqliteMessageQueue } from "./sqlite/queue.ts";

export type BackendsConfig = Pick<Config, "dataDir" | "databaseUrl" | "redisUrl">;

export interface BackendsOptions {
  /** Listener settings of the queue (workers, lease, poll interval). */
  readonly queue?: LeaseOptions;
  /** Before every Redis key: `"herald:"` by default (then `kv:…` and `queue:…`). */
  readonly redisKeyPrefix?: string;
}

/** A queue of ours: Fedify's interface plus a depth that counts the messages in flight. */
export type FederationQueue = MessageQueue & {
  getDepth(): Promise<MessageQueueDepth>;
  depth(): QueueDepth | Promise<QueueDepth>;
};

export interface Backends {
  readonly articles: ArticleStore;
  readonly kv: KvStore;
  readonly queue: FederationQueue;
  /** The main account's followers. */
  readonly followers: FollowerStore;
  /** The followers of another account: a section's (`SECTIONS`), by its id. */
  followersOf(account: string): Promise<FollowerStore>;
  readonly ledger: DeliveryLedger;
  /** The replies, likes and boosts, with the limits and hiding rules given. */
  openInteractions(options: InteractionStoreOptions): Promise<InteractionStore>;
  /** Where they live, for the start-up log; never with credentials. */
  readonly describe: { readonly articles: string; readonly federation: string };
  /** Ends every connection; stop the queue's listeners first. */
  close(): Promise<void>;
}

/**
 * Opens every store where the configuration says (PostgreSQL tables created if missing;
 * `?search_path=…` on the URL picks the schema). Fails if a server does not answer, with
 * whatever was opened closed again.
 */
export async function openBackends(
  config: BackendsConfig,
  options: BackendsOptions = {},
): Promise<Backends> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    const home = config.databaseUrl
      ? await openPostgresHome(config.databaseUrl, closers)
      : openSqliteHome(config.dataDir, closers);
    const fast = config.redisUrl
      ? await openRedisHome(config.redisUrl, closers, options)
      : await home.fast(options);
    return {
      ...home.stores,
      kv: fast.kv,
      queue: fast.queue,
      describe: { articles: home.describe, federation: fast.describe },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

type Closers = (() => Promise<void>)[];

interface FastStores {
  readonly kv: KvStore;
  readonly queue: FederationQueue;
  readonly describe: string;
}

/** The engine holding articles, followers, interactions and the ledger. */
interface Home {
  readonly stores: Pick<
    Backends,
    "articles" | "followers" | "followersOf" | "ledger" | "openInteractions"
  >;
  readonly describe: string;
  /** The KV store and queue in the same engine, when Redis does not hold them. */
  fast(options: BackendsOptions): Promise<FastStores>;
}

function openSqliteHome(dataDir: string, closers: Closers): Home {
  const db = new DatabaseSync(join(dataDir, "herald.sqlite"));
  closers.push(async () => {
    if (db.isOpen) db.close();
  });
  // First: it sets the connection's pragmas (WAL, synchronous) the other stores share.
  const articles = openSqliteArticleStore(db);
  closers.push(() => articles.close());
  return {
    stores: {
      articles,
      followers: openSqliteFollowerStore(db),
      followersOf: async (account) => openSqliteFollowerStore(db, account),
      ledger: openSqliteDeliveryLedger(db),
      openInteractions: async (limits) => openSqliteInteractionStore(db, limits),
    },
    describe: `SQLite in ${dataDir}`,
    fast: async (options) => ({
      kv: openSqliteKvStore(db),
      queue: openSqliteMessageQueue(db, options.queue),
      describe: "KV store and delivery queue in the embedded SQLite database",
    }),
  };
}

async function openPostgresHome(url: URL, closers: Closers): Promise<Home> {
  const sql = connectPostgres(url);
  closers.push(() => sql.end({ timeout: 5 }));
  const articles = await openPostgresArticleStore(url, { sql });
  closers.push(() => articles.close());
  return {
    stores: {
      articles,
      followers: await openPostgresFollowerStore(sql),
      followersOf: (account) => openPostgresFollowerStore(sql, account),
      ledger: await openPostgresDeliveryLedger(sql),
      openInteractions: (limits) => openPostgresInteractionStore(sql, limits),
    },
    describe: `PostgreSQL at ${url.host}`,
    fast: async (options) => ({
      kv: await openPostgresKvStore(sql),
      queue: await openPostgresMessageQueue(sql, options.queue),
      describe: `KV store and delivery queue in PostgreSQL at ${withoutSecrets(url)}`,
    }),
  };
}

async function openRedisHome(
  url: URL,
  closers: Closers,
  options: BackendsOptions,
): Promise<FastStores> {
  const redis = await connectRedis(url);
  closers.push(async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  const prefix = options.redisKeyPrefix ?? "herald:";
  return {
    kv: openRedisKvStore(redis, { keyPrefix: `${prefix}kv:` }),
    queue: openRedisMessageQueue(redis, { ...options.queue, keyPrefix: `${prefix}queue:` }),
    describe: `KV store and delivery queue in Redis at ${withoutSecrets(url)}`,
  };
}
