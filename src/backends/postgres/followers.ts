/**
 * The `FollowerStore` in PostgreSQL, shared by every process on the same database and schema:
 * a worker that accepts a `Follow` adds the follower every web process lists and every worker
 * delivers to.
 */
import type postgres from "postgres";
import {
  DEFAULT_PAGE_SIZE,
  type Follower,
  type FollowerStore,
  MAIN_ACCOUNT,
} from "../../federation/followers.ts";
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

interface Row {
  readonly actor_id: string;
  readonly inbox: string;
  readonly shared_inbox: string | null;
  readonly follow_id: string;
  readonly created_at: Date;
}

/**
 * Creates the `herald_followers` table in the client's current schema if it is missing (safe
 * when several processes start at once), adds the `account` column to an older one, and opens
 * the store of `account` (`MAIN_ACCOUNT`, or a section's id) on it. The client is the caller's:
 * nothing here ends it.
 */
export async function openPostgresFollowerStore(
  sql: postgres.Sql,
  account = MAIN_ACCOUNT,
): Promise<FollowerStore> {
  await createTablesOnce(sql, TABLE, DDL);
  await addColumnOnce(sql, TABLE, "account", ADD_ACCOUNT);
  await addIndexOnce(sql, `${TABLE}_by_target`, BY_TARGET);
  const table = sql(TABLE);
  const columns = sql`actor_id, inbox, shared_inbox, follow_id, created_at`;
  // Grouped by inbox (see `InboxGroupRow`), the first to follow first; the actors' column follows.
  const grouped = sql`SELECT coalesce(shared_inbox, inbox) AS target,
    bool_or(shared_inbox IS NOT NULL) AS shared,`;
  return {
    async add(follower) {
      // A follow again keeps the first `created_at`: the follower keeps its place in the list.
      await sql`
        INSERT INTO ${table} (account, actor_id, inbox, shared_inbox, follow_id, created_at)
        VALUES (${account}, ${follower.id.href}, ${follower.inbox.href},
          ${follower.sharedInbox?.href ?? null}, ${follower.followId.href}, ${follower.createdAt})
        ON CONFLICT (account, actor_id) DO UPDATE SET inbox = excluded.inbox,
          shared_inbox = excluded.shared_inbox, follow_id = excluded.follow_id`;
    },
    async removeByFollow(followId, actorId) {
      const rows = await sql`
        DELETE FROM ${table} WHERE account = ${account} AND follow_id = ${followId.href}
          AND actor_id = ${actorId.href}
        RETURNING 1`;
      return rows.length > 0;
    },
    async removeByActor(actorId) {
      const rows = await sql`
        DELETE FROM ${table} WHERE account = ${account} AND actor_id = ${actorId.href}
        RETURNING 1`;
      return rows.length > 0;
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
  };
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
