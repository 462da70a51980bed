/** The followers (`federation/followers.ts`) in the embedded SQLite database. */
import type { DatabaseSync, SQLOutputValue } from "node:sqlite";
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

type Row = Record<string, SQLOutputValue>;

const TABLE = `
  CREATE TABLE IF NOT EXISTS federation_followers (
    account      TEXT NOT NULL DEFAULT '',
    actor_id     TEXT NOT NULL,
    inbox        TEXT NOT NULL,
    shared_inbox TEXT,
    follow_id    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account, actor_id)
  ) STRICT;
  CREATE INDEX IF NOT EXISTS federation_followers_by_account
    ON federation_followers (account, created_at, actor_id);
  CREATE INDEX IF NOT EXISTS federation_followers_by_target
    ON federation_followers (account, coalesce(shared_inbox, inbox));
`;

/**
 * A `FollowerStore` of `account` (`MAIN_ACCOUNT`, or a section's id) in the
 * `federation_followers` table of `db` (created if missing; a table of an older version, without
 * the `account` column, is rebuilt with its followers as the main account's).
 */
export function openSqliteFollowerStore(db: DatabaseSync, account = MAIN_ACCOUNT): FollowerStore {
  createTable(db);
  const insert = db.prepare(`
    INSERT INTO federation_followers (account, actor_id, inbox, shared_inbox, follow_id, created_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (account, actor_id) DO UPDATE SET
      inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, follow_id = excluded.follow_id
  `);
  const deleteByFollow = db.prepare(
    "DELETE FROM federation_followers WHERE account = ? AND follow_id = ? AND actor_id = ?",
  );
  const deleteByActor = db.prepare(
    "DELETE FROM federation_followers WHERE account = ? AND actor_id = ?",
  );
  const selectOne = db.prepare(
    "SELECT * FROM federation_followers WHERE account = ? AND actor_id = ?",
  );
  const selectPage = db.prepare(
    "SELECT * FROM federation_followers WHERE account = ? ORDER BY created_at, actor_id LIMIT ? OFFSET ?",
  );
  const selectCount = db.prepare(
    "SELECT count(*) AS count FROM federation_followers WHERE account = ?",
  );
  // Keyset: the row value comparison walks the (account, created_at, actor_id) index from the cursor.
  const selectPageAfter = db.prepare(`
    SELECT * FROM federation_followers WHERE account = ? AND (created_at, actor_id) > (?, ?)
    ORDER BY created_at, actor_id LIMIT ?`);
  // Grouped by inbox (see `InboxGroupRow`); the first to follow first. `actors`: all of the
  // group's ids (joined by the separator, the first parameter), or one.
  const inboxGroups = (where: string, actors = "group_concat(actor_id, ?) AS actors") =>
    db.prepare(`
      SELECT coalesce(shared_inbox, inbox) AS target, max(shared_inbox IS NOT NULL) AS shared,
        ${actors}
      FROM federation_followers WHERE ${where}
      GROUP BY target ORDER BY min(created_at), target`);
  const selectInboxes = inboxGroups("account = ?");
  const selectInboxesIn = inboxGroups("account = ? AND actor_id >= ? AND actor_id < ?");
  const selectInboxesOf = inboxGroups(
    "account = ? AND coalesce(shared_inbox, inbox) IN (SELECT value FROM json_each(?))",
  );
  const selectDeliveryInboxes = inboxGroups("account = ?", "min(actor_id) AS actor");

  return {
    async add(follower) {
      insert.run(
        account,
        follower.id.href,
        follower.inbox.href,
        follower.sharedInbox?.href ?? null,
        follower.followId.href,
        follower.createdAt.getTime(),
      );
    },
    async removeByFollow(followId, actorId) {
      return Number(deleteByFollow.run(account, followId.href, actorId.href).changes) > 0;
    },
    async removeByActor(actorId) {
      return Number(deleteByActor.run(account, actorId.href).changes) > 0;
    },
    async get(actorId) {
      const row = selectOne.get(account, actorId.href);
      return row == null ? undefined : toFollower(row);
    },
    async list(options = {}) {
      const limit = options.limit ?? DEFAULT_PAGE_SIZE;
      const cursor = decodeFollowerCursor(options.cursor);
      const rows =
        "after" in cursor
          ? selectPageAfter.all(
              account,
              cursor.after.createdAt.getTime(),
              cursor.after.actorId,
              limit + 1,
            )
          : selectPage.all(account, limit + 1, cursor.offset);
      const items = rows.slice(0, limit).map(toFollower);
      const last = items.at(-1);
      return rows.length > limit && last !== undefined
        ? { items, nextCursor: encodeFollowerCursor(last.createdAt, last.id.href) }
        : { items };
    },
    async count() {
      return Number(selectCount.get(account)?.count ?? 0);
    },
    async inboxes(options = {}) {
      const { actorPrefix, inboxes } = options;
      const range = actorPrefix === undefined ? undefined : prefixRange(actorPrefix);
      const rows =
        inboxes !== undefined
          ? selectInboxesOf.all(ACTOR_SEPARATOR, account, JSON.stringify(inboxes))
          : range === undefined
            ? selectInboxes.all(ACTOR_SEPARATOR, account)
            : selectInboxesIn.all(ACTOR_SEPARATOR, account, range.from, range.to);
      return toInboxGroups(rows.map(toGroupRow));
    },
    async deliveryInboxes() {
      return selectDeliveryInboxes.all(account).map((row) => ({
        inbox: new URL(String(row.target)),
        sharedInbox: Boolean(row.shared),
        actorId: String(row.actor),
      }));
    },
  };
}

/**
 * Creates the table, or adds the `account` column to an older one: a rebuild, since it joins
 * the primary key. Checked again inside the write lock, in case another process just did it.
 */
function createTable(db: DatabaseSync): void {
  if (!lacksAccount(db)) {
    db.exec(TABLE);
    return;
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    if (lacksAccount(db)) {
      db.exec(`
        ALTER TABLE federation_followers RENAME TO federation_followers_before_accounts;
        ${TABLE}
        INSERT INTO federation_followers (account, actor_id, inbox, shared_inbox, follow_id, created_at)
          SELECT '', actor_id, inbox, shared_inbox, follow_id, created_at
          FROM federation_followers_before_accounts;
        DROP TABLE federation_followers_before_accounts;
      `);
    }
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

function lacksAccount(db: DatabaseSync): boolean {
  const columns = db.prepare("PRAGMA table_info(federation_followers)").all();
  return columns.length > 0 && !columns.some((column) => column.name === "account");
}

function toFollower(row: Row): Follower {
  const sharedInbox = row.shared_inbox;
  return {
    id: new URL(String(row.actor_id)),
    inbox: new URL(String(row.inbox)),
    ...(typeof sharedInbox === "string" ? { sharedInbox: new URL(sharedInbox) } : {}),
    followId: new URL(String(row.follow_id)),
    createdAt: new Date(Number(row.created_at)),
  };
}

function toGroupRow(row: Row): InboxGroupRow {
  return {
    target: String(row.target),
    shared: Number(row.shared) !== 0,
    actors: String(row.actors),
  };
}
