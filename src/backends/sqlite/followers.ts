/** The followers (`federation/followers.ts`) in the embedded SQLite database. */
import type { DatabaseSync, SQLOutputValue } from "node:sqlite";
import {
  DEFAULT_PAGE_SIZE,
  type Follower,
  type FollowerStore,
} from "../../federation/followers.ts";
import {
  decodeFollowerCursor,
  encodeFollowerCursor,
  groupInboxRows,
  type InboxRow,
  prefixRange,
} from "../follower-pages.ts";

type Row = Record<string, SQLOutputValue>;

/** A `FollowerStore` in the `federation_followers` table of `db` (created if missing). */
export function openSqliteFollowerStore(db: DatabaseSync): FollowerStore {
  db.exec(`
    CREATE TABLE IF NOT EXISTS federation_followers (
      actor_id     TEXT PRIMARY KEY,
      inbox        TEXT NOT NULL,
      shared_inbox TEXT,
      follow_id    TEXT NOT NULL,
      created_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS federation_followers_by_age
      ON federation_followers (created_at, actor_id);
  `);
  const insert = db.prepare(`
    INSERT INTO federation_followers (actor_id, inbox, shared_inbox, follow_id, created_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (actor_id) DO UPDATE SET
      inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, follow_id = excluded.follow_id
  `);
  const deleteByFollow = db.prepare(
    "DELETE FROM federation_followers WHERE follow_id = ? AND actor_id = ?",
  );
  const deleteByActor = db.prepare("DELETE FROM federation_followers WHERE actor_id = ?");
  const selectOne = db.prepare("SELECT * FROM federation_followers WHERE actor_id = ?");
  const selectPage = db.prepare(
    "SELECT * FROM federation_followers ORDER BY created_at, actor_id LIMIT ? OFFSET ?",
  );
  // Keyset: the row value comparison walks the (created_at, actor_id) index from the cursor.
  const selectPageAfter = db.prepare(`
    SELECT * FROM federation_followers WHERE (created_at, actor_id) > (?, ?)
    ORDER BY created_at, actor_id LIMIT ?`);
  const selectCount = db.prepare("SELECT count(*) AS count FROM federation_followers");
  const selectInboxes = db.prepare(
    "SELECT actor_id, inbox, shared_inbox FROM federation_followers ORDER BY created_at, actor_id",
  );
  const selectInboxesIn = db.prepare(`
    SELECT actor_id, inbox, shared_inbox FROM federation_followers
    WHERE actor_id >= ? AND actor_id < ? ORDER BY created_at, actor_id`);

  return {
    async add(follower) {
      insert.run(
        follower.id.href,
        follower.inbox.href,
        follower.sharedInbox?.href ?? null,
        follower.followId.href,
        follower.createdAt.getTime(),
      );
    },
    async removeByFollow(followId, actorId) {
      return Number(deleteByFollow.run(followId.href, actorId.href).changes) > 0;
    },
    async removeByActor(actorId) {
      return Number(deleteByActor.run(actorId.href).changes) > 0;
    },
    async get(actorId) {
      const row = selectOne.get(actorId.href);
      return row == null ? undefined : toFollower(row);
    },
    async list(options = {}) {
      const limit = options.limit ?? DEFAULT_PAGE_SIZE;
      const cursor = decodeFollowerCursor(options.cursor);
      const rows =
        "after" in cursor
          ? selectPageAfter.all(cursor.after.createdAt.getTime(), cursor.after.actorId, limit + 1)
          : selectPage.all(limit + 1, cursor.offset);
      const items = rows.slice(0, limit).map(toFollower);
      const last = items.at(-1);
      return rows.length > limit && last !== undefined
        ? { items, nextCursor: encodeFollowerCursor(last.createdAt, last.id.href) }
        : { items };
    },
    async count() {
      return Number(selectCount.get()?.count ?? 0);
    },
    async inboxes(options = {}) {
      if (options.actorPrefix === undefined) {
        return groupInboxRows(selectInboxes.iterate() as Iterable<InboxRow>);
      }
      const { from, to } = prefixRange(options.actorPrefix);
      return groupInboxRows(selectInboxesIn.iterate(from, to) as Iterable<InboxRow>);
    },
  };
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
