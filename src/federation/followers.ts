/**
 * Who follows the account, and where to deliver to them. SQLite implements it here;
 * `postgres-followers.ts` implements the same interface in PostgreSQL.
 */
import type { DatabaseSync, SQLOutputValue } from "node:sqlite";

export interface Follower {
  /** The remote actor's id. */
  readonly id: URL;
  readonly inbox: URL;
  /** The actor's `endpoints.sharedInbox`, when its server has one. */
  readonly sharedInbox?: URL;
  /** The id of the `Follow` activity we accepted. */
  readonly followId: URL;
  readonly createdAt: Date;
}

export interface FollowerPage {
  /** Oldest first. */
  readonly items: readonly Follower[];
  /** Pass back to `list()` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** One delivery target: a shared inbox serving several followers, or one personal inbox. */
export interface InboxGroup {
  readonly inbox: URL;
  readonly sharedInbox: boolean;
  readonly actorIds: readonly URL[];
}

export interface ListFollowersOptions {
  readonly cursor?: string | undefined;
  /** Default 50. */
  readonly limit?: number;
}

export interface FollowerStore {
  /** Adds a follower, or refreshes its inboxes and follow id when it follows again. */
  add(follower: Follower): Promise<void>;
  /** Removes the follower whose follow is `followId`, only if it is `actorId`'s. */
  removeByFollow(followId: URL, actorId: URL): Promise<boolean>;
  /** Removes the follower `actorId` (an `Undo(Follow)` or the actor's own deletion). */
  removeByActor(actorId: URL): Promise<boolean>;
  get(actorId: URL): Promise<Follower | undefined>;
  list(options?: ListFollowersOptions): Promise<FollowerPage>;
  count(): Promise<number>;
  /** Every follower's delivery inbox, followers on the same server grouped by shared inbox. */
  inboxes(): Promise<readonly InboxGroup[]>;
}

export const DEFAULT_PAGE_SIZE = 50;

type Row = Record<string, SQLOutputValue>;

/** A `FollowerStore` in the `federation_followers` table of `db` (created if missing). */
export function createSqliteFollowerStore(db: DatabaseSync): FollowerStore {
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
  const selectCount = db.prepare("SELECT count(*) AS count FROM federation_followers");
  const selectAll = db.prepare("SELECT * FROM federation_followers ORDER BY created_at, actor_id");

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
      const offset = parseCursor(options.cursor);
      const rows = selectPage.all(limit + 1, offset);
      const items = rows.slice(0, limit).map(toFollower);
      return rows.length > limit ? { items, nextCursor: String(offset + limit) } : { items };
    },
    async count() {
      return Number(selectCount.get()?.count ?? 0);
    },
    async inboxes() {
      return groupInboxes(selectAll.all().map(toFollower));
    },
  };
}

/** Groups followers by the inbox a delivery goes to: the shared one where there is one. */
export function groupInboxes(followers: readonly Follower[]): readonly InboxGroup[] {
  const groups = new Map<string, { inbox: URL; sharedInbox: boolean; actorIds: URL[] }>();
  for (const follower of followers) {
    const inbox = follower.sharedInbox ?? follower.inbox;
    const group = groups.get(inbox.href) ?? {
      inbox,
      sharedInbox: follower.sharedInbox != null,
      actorIds: [],
    };
    group.actorIds.push(follower.id);
    groups.set(inbox.href, group);
  }
  return [...groups.values()];
}

/** A `list()` cursor is the offset of the next page's first follower. */
export function parseCursor(cursor: string | undefined): number {
  if (cursor == null || !/^\d{1,9}$/.test(cursor)) return 0;
  return Number(cursor);
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
