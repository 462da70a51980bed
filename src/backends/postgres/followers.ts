/**
 * The `FollowerStore` in PostgreSQL, shared by every process on the same database and schema:
 * a worker that accepts a `Follow` adds the follower every web process lists and every worker
 * delivers to.
 */
import { hash } from "node:crypto";
import type postgres from "postgres";
import {
  DEFAULT_PAGE_SIZE,
  type Follower,
  type FollowerStore,
  MAIN_ACCOUNT,
} from "../../federation/followers.ts";
import { digestsOf } from "../follower-digests.ts";
import {
  ACTOR_SEPARATOR,
  decodeFollowerCursor,
  encodeFollowerCursor,
  type InboxGroupRow,
  prefixRange,
  toInboxGroups,
} from "../follower-pages.ts";
import { addColumnOnce, addIndexOnce, createTablesOnce } from "./tables.ts";

const TABLE = "herald_followers";

/** The followers behind given delivery inboxes (`inboxes({ inboxes })`: a slice of a fan-out). */
const BY_TARGET = `CREATE INDEX IF NOT EXISTS "${TABLE}_by_target" ON "${TABLE}" (account, coalesce(shared_inbox, inbox))`;

// `C` collation: ids order by code point, as in SQLite, so both stores page alike.
const DDL = `
  CREATE TABLE IF NOT EXISTS "${TABLE}" (
    account      text COLLATE "C" NOT NULL DEFAULT '',
    actor_id     text COLLATE "C" NOT NULL,
    inbox        text NOT NULL,
    shared_inbox text,
    follow_id    text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (account, actor_id)
  );
  CREATE INDEX IF NOT EXISTS "${TABLE}_by_account" ON "${TABLE}" (account, created_at, actor_id);
  ${BY_TARGET};
`;

/** A table of an older version gets the `account` column; its followers are the main account's. */
const ADD_ACCOUNT = `
  ALTER TABLE "${TABLE}" ADD COLUMN account text COLLATE "C" NOT NULL DEFAULT '';
  ALTER TABLE "${TABLE}" DROP CONSTRAINT "${TABLE}_pkey";
  ALTER TABLE "${TABLE}" ADD PRIMARY KEY (account, actor_id);
  DROP INDEX IF EXISTS "${TABLE}_by_age";
  CREATE INDEX IF NOT EXISTS "${TABLE}_by_account" ON "${TABLE}" (account, created_at, actor_id);
`;

/**
 * FEP-8fcf's digest of each account's followers on each server (`follower-digests.ts`). A
 * `bit(256)`, not `bytea`: PostgreSQL XORs bit strings (`#`), so a follow or an unfollow updates
 * it in one atomic upsert, the row locked until the follower's transaction ends, whichever
 * process of several sharing the database runs it.
 */
const DIGESTS = "herald_follower_digests";

const DIGESTS_DDL = `
  CREATE TABLE IF NOT EXISTS "${DIGESTS}" (
    account text COLLATE "C" NOT NULL,
    origin  text COLLATE "C" NOT NULL,
    digest  bit(256) NOT NULL,
    PRIMARY KEY (account, origin)
  );
`;

interface Row {
  readonly actor_id: string;
  readonly inbox: string;
  readonly shared_inbox: string | null;
  readonly follow_id: string;
  readonly created_at: Date;
}

/**
 * Creates the `herald_followers` table in the client's current schema if it is missing (safe
 * when several processes start at once), adds the `account` column to an older one, adds the
 * digest table (filled from the followers already there) to a database that has none, and
 * opens the store of `account` (`MAIN_ACCOUNT`, or a section's id) on it. The client is the
 * caller's: nothing here ends it.
 */
export async function openPostgresFollowerStore(
  sql: postgres.Sql,
  account = MAIN_ACCOUNT,
): Promise<FollowerStore> {
  await createTablesOnce(sql, TABLE, DDL);
  await addColumnOnce(sql, TABLE, "account", ADD_ACCOUNT);
  await addIndexOnce(sql, `${TABLE}_by_target`, BY_TARGET);
  await createTablesOnce(sql, DIGESTS, DIGESTS_DDL, fillDigests);
  const table = sql(TABLE);
  const digests = sql(DIGESTS);
  /**
   * XORs `actorId`'s hash into or out of its server's digest in `tx`, the follower's
   * transaction; a digest back to all zeros goes (`follower-digests.ts`). `x…` is a bit string
   * in hex.
   */
  const toggle = async (tx: postgres.TransactionSql, actorId: URL) => {
    const [row] = await tx<{ empty: boolean }[]>`
      INSERT INTO ${digests} AS d (account, origin, digest)
      VALUES (${account}, ${actorId.origin}, ('x' || ${hash("sha256", actorId.href, "hex")})::bit(256))
      ON CONFLICT (account, origin) DO UPDATE SET digest = d.digest # excluded.digest
      RETURNING d.digest = 0::bit(256) AS empty`;
    if (row?.empty === true) {
      await tx`DELETE FROM ${digests} WHERE account = ${account} AND origin = ${actorId.origin}`;
    }
  };
  const columns = sql`actor_id, inbox, shared_inbox, follow_id, created_at`;
  // Grouped by inbox (see `InboxGroupRow`), the first to follow first; the actors' column follows.
  const grouped = sql`SELECT coalesce(shared_inbox, inbox) AS target,
    bool_or(shared_inbox IS NOT NULL) AS shared,`;
  return {
    async add(follower) {
      const { id } = follower;
      await sql.begin(async (tx) => {
        // Only a new follower's hash goes into the digest. An INSERT that finds the row (made by
        // another process meanwhile, it waits for that one's commit) inserts nothing; then a
        // follow again refreshes the inboxes and the follow id, and keeps the first
        // `created_at`: the follower keeps its place in the list. Should the row be removed in
        // between, the next round inserts it.
        for (;;) {
          const added = await tx`
            INSERT INTO ${table} (account, actor_id, inbox, shared_inbox, follow_id, created_at)
            VALUES (${account}, ${id.href}, ${follower.inbox.href},
              ${follower.sharedInbox?.href ?? null}, ${follower.followId.href}, ${follower.createdAt})
            ON CONFLICT (account, actor_id) DO NOTHING
            RETURNING 1`;
          if (added.length > 0) return await toggle(tx, id);
          const refreshed = await tx`
            UPDATE ${table} SET inbox = ${follower.inbox.href},
              shared_inbox = ${follower.sharedInbox?.href ?? null}, follow_id = ${follower.followId.href}
            WHERE account = ${account} AND actor_id = ${id.href}
            RETURNING 1`;
          if (refreshed.length > 0) return;
        }
      });
    },
    async removeByFollow(followId, actorId) {
      return await sql.begin(async (tx) => {
        const rows = await tx`
          DELETE FROM ${table} WHERE account = ${account} AND follow_id = ${followId.href}
            AND actor_id = ${actorId.href}
          RETURNING 1`;
        if (rows.length > 0) await toggle(tx, actorId);
        return rows.length > 0;
      });
    },
    async removeByActor(actorId) {
      return await sql.begin(async (tx) => {
        const rows = await tx`
          DELETE FROM ${table} WHERE account = ${account} AND actor_id = ${actorId.href}
          RETURNING 1`;
        if (rows.length > 0) await toggle(tx, actorId);
        return rows.length > 0;
      });
    },
    async get(actorId) {
      const [row] = await sql<Row[]>`
        SELECT ${columns} FROM ${table} WHERE account = ${account} AND actor_id = ${actorId.href}`;
      return row === undefined ? undefined : toFollower(row);
    },
    async list(options = {}) {
      const limit = options.limit ?? DEFAULT_PAGE_SIZE;
      const cursor = decodeFollowerCursor(options.cursor);
      // Keyset: the row comparison walks the (account, created_at, actor_id) index from the cursor.
      const rows =
        "after" in cursor
          ? await sql<Row[]>`
            SELECT ${columns} FROM ${table} WHERE account = ${account}
              AND (created_at, actor_id) > (${cursor.after.createdAt}, ${cursor.after.actorId})
            ORDER BY created_at, actor_id LIMIT ${limit + 1}`
          : await sql<Row[]>`
            SELECT ${columns} FROM ${table} WHERE account = ${account}
            ORDER BY created_at, actor_id LIMIT ${limit + 1} OFFSET ${cursor.offset}`;
      const items = rows.slice(0, limit).map(toFollower);
      const last = items.at(-1);
      return rows.length > limit && last !== undefined
        ? { items, nextCursor: encodeFollowerCursor(last.createdAt, last.id.href) }
        : { items };
    },
    async count() {
      const [row] = await sql<{ n: number }[]>`
        SELECT count(*)::integer AS n FROM ${table} WHERE account = ${account}`;
      return row?.n ?? 0;
    },
    async inboxes(options = {}) {
      const { actorPrefix, inboxes } = options;
      const range = actorPrefix === undefined ? undefined : prefixRange(actorPrefix);
      const rows = await sql<InboxGroupRow[]>`
        ${grouped} string_agg(actor_id, ${ACTOR_SEPARATOR}) AS actors
        FROM ${table} WHERE account = ${account}
        ${range === undefined ? sql`` : sql`AND actor_id >= ${range.from} AND actor_id < ${range.to}`}
        ${inboxes === undefined ? sql`` : sql`AND coalesce(shared_inbox, inbox) = ANY(${inboxes as string[]})`}
        GROUP BY target ORDER BY min(created_at), target`;
      return toInboxGroups(rows);
    },
    async deliveryInboxes() {
      const rows = await sql<{ target: string; shared: boolean; actor: string }[]>`
        ${grouped} min(actor_id) AS actor
        FROM ${table} WHERE account = ${account}
        GROUP BY target ORDER BY min(created_at), target`;
      return rows.map((row) => ({
        inbox: new URL(row.target),
        sharedInbox: row.shared,
        actorId: row.actor,
      }));
    },
    async syncDigests(origins) {
      const rows = await sql<{ origin: string; digest: string }[]>`
        SELECT origin, digest FROM ${digests}
        WHERE account = ${account} AND origin = ANY(${origins as string[]})`;
      return new Map(rows.map((row) => [row.origin, hexOfBits(row.digest)]));
    },
  };
}

/**
 * Fills the digest table just made, in its transaction, from the followers already there (a
 * database of an older version): 100,000 followers on 10,000 servers took 0.7 s, once.
 */
async function fillDigests(tx: postgres.TransactionSql): Promise<void> {
  const followers = await tx<{ account: string; actor_id: string }[]>`
    SELECT account, actor_id FROM ${tx(TABLE)}`;
  const rows = digestsOf(followers.map((row) => ({ account: row.account, actorId: row.actor_id })));
  if (rows.length === 0) return;
  await tx`
    INSERT INTO ${tx(DIGESTS)} (account, origin, digest)
    SELECT account, origin, ('x' || digest)::bit(256)
    FROM unnest(${rows.map((row) => row.account)}::text[], ${rows.map((row) => row.origin)}::text[],
      ${rows.map((row) => row.digest.toString("hex"))}::text[]) AS d(account, origin, digest)`;
}

/** A `bit(256)` as PostgreSQL hands it over (`0101…`), in hex. */
function hexOfBits(bits: string): string {
  return BigInt(`0b${bits}`).toString(16).padStart(64, "0");
}

function toFollower(row: Row): Follower {
  return {
    id: new URL(row.actor_id),
    inbox: new URL(row.inbox),
    ...(row.shared_inbox === null ? {} : { sharedInbox: new URL(row.shared_inbox) }),
    followId: new URL(row.follow_id),
    createdAt: row.created_at,
  };
}
