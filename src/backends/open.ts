import type { DatabaseSync } from "node:sqlite";
import type { KvStore, MessageQueue, MessageQueueDepth } from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import { Redis } from "ioredis";
import postgres from "postgres";
import type { LeaseOptions, QueueDepth } from "./lease-listener.ts";
import { openPostgresKvStore } from "./postgres/kv.ts";
import { openPostgresMessageQueue } from "./postgres/queue.ts";
import { RedisKvStore } from "./redis/kv.ts";
import { RedisMessageQueue } from "./redis/queue.ts";
import { SqliteKvStore } from "./sqlite/kv.ts";
import { SqliteMessageQueue } from "./sqlite/queue.ts";

const logger = getLogger(["herald", "federation"]);

export interface FederationBackendsConfig {
  readonly databaseUrl?: URL;
  readonly redisUrl?: URL;
  /** The embedded database, used when neither URL is set. */
  readonly dataDb: DatabaseSync | undefined;
  /**
   * A client on `databaseUrl` (from `connectPostgres()`) to use instead of opening one, so
   * that other stores can share its pool. It stays the caller's: `close()` leaves it open.
   */
  readonly postgres?: postgres.Sql;
}

export interface FederationBackendsOptions {
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

export interface FederationBackends {
  readonly kv: KvStore;
  readonly queue: FederationQueue;
  /** Ends the connections opened here (not `dataDb`). Abort the queue's listeners first. */
  close(): Promise<void>;
  /** Where they live, for the start-up log; never with credentials. */
  readonly describe: string;
}

/**
 * Opens Fedify's KV store and message queue where the configuration says: with `REDIS_URL`
 * both in Redis; else with `DATABASE_URL` both in PostgreSQL (tables created if missing;
 * `?search_path=…` on the URL picks the schema); else both in the embedded SQLite database.
 * Fails if the server does not answer.
 */
export async function openFederationBackends(
  config: FederationBackendsConfig,
  options: FederationBackendsOptions = {},
): Promise<FederationBackends> {
  if (config.redisUrl !== undefined) {
    const redis = await connectRedis(config.redisUrl);
    const prefix = options.redisKeyPrefix ?? "herald:";
    return {
      kv: new RedisKvStore(redis, { keyPrefix: `${prefix}kv:` }),
      queue: new RedisMessageQueue(redis, { ...options.queue, keyPrefix: `${prefix}queue:` }),
      close: async () => {
        await redis.quit().catch(() => redis.disconnect());
      },
      describe: `KV store and delivery queue in Redis at ${withoutSecrets(config.redisUrl)}`,
    };
  }
  if (config.databaseUrl !== undefined) {
    const owned = config.postgres === undefined;
    const sql = config.postgres ?? connectPostgres(config.databaseUrl);
    try {
      const kv = await openPostgresKvStore(sql);
      const queue = await openPostgresMessageQueue(sql, options.queue);
      return {
        kv,
        queue,
        close: async () => {
          if (owned) await sql.end({ timeout: 5 });
        },
        describe: `KV store and delivery queue in PostgreSQL at ${withoutSecrets(config.databaseUrl)}`,
      };
    } catch (error) {
      if (owned) await sql.end({ timeout: 1 });
      throw error;
    }
  }
  if (config.dataDb === undefined) {
    throw new Error("Without DATABASE_URL or REDIS_URL, federation needs the SQLite database.");
  }
  return {
    kv: new SqliteKvStore(config.dataDb),
    queue: new SqliteMessageQueue(config.dataDb, options.queue),
    close: async () => {},
    describe: "KV store and delivery queue in the embedded SQLite database",
  };
}

/**
 * A client (a pool of up to 10 connections, opened on first use) for the federation's tables
 * in PostgreSQL: KV store, queue and followers. `?search_path=…` on the URL picks the schema.
 */
export function connectPostgres(url: URL): postgres.Sql {
  return postgres(url.href, {
    max: 10,
    // postgres prints notices (`… already exists, skipping`) with console.log by default.
    onnotice: (notice) => logger.debug("PostgreSQL: {message}", { message: notice.message }),
    connection: { application_name: "herald federation" },
  });
}

async function connectRedis(url: URL): Promise<Redis> {
  const redis = new Redis(url.href, { lazyConnect: true });
  let reason = "";
  // ioredis reports connection trouble as events; without a listener Node would throw.
  redis.on("error", (error: Error) => {
    reason = error.message;
    logger.warn("Redis: {error}", { error });
  });
  try {
    await redis.connect();
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new Error(`Redis at ${withoutSecrets(url)} does not answer: ${reason || error}`, {
      cause: error,
    });
  }
}

/** The URL without user, password or parameters (which may hold a password too). */
function withoutSecrets(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
