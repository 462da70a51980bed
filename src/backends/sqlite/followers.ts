/** The followers (`federation/followers.ts`) in the embedded SQLite database. */
import type { DatabaseSync, SQLOutputValue } from "node:sqlite";
import {
  DEFAULT_PAGE_SIZE,
  type Follower,
  type FollowerStore,
  MAIN_ACCOUNT,
} from "../../federation/followers.ts";
import { digestsOf, isZero, toggled } from "../follower-digests.ts";
import {
  ACTOR_SEPARATOR,
  decodeFollowerCursor,
  encodeFollowerCursor,
  type InboxGroupRow,
  prefixRange,
  toInboxGroups,
} from "../follower-pages.ts";
import { immediate } from "./connection.ts";

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

/** FEP-8fcf's digest of each account's followers on each server (`follower-digests.ts`). */
const DIGESTS = "federation_follower_digests";
const DIGESTS_TABLE = `
  CREATE TABLE ${DIGESTS} (
    account TEXT NOT NULL,
    origin  TEXT NOT NULL,
    digest  BLOB NOT NULL,
    PRIMARY KEY (account, origin)
  ) STRICT, WITHOUT ROWID;
`;

/**
 * A `FollowerStore` of `account` (`MAIN_ACCOUNT`, or a section's id) in the
 * `federation_followers` table of `db` (created if missing; a table of an older version, without
 * the `account` column, is rebuilt with its followers as the main account's), with the digests
 * of its followers on each server in `federation_follower_digests` (made from the followers
 * once, when a database of an older version has none).
 */
export function openSqliteFollowerStore(db: DatabaseSync, account = MAIN_ACCOUNT): FollowerStore {
  createTable(db);
  createDigestTable(db);
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
  const selectExists = db.prepare(
    "SELECT 1 FROM federation_followers WHERE account = ? AND actor_id = ?",
  );
  const selectDigest = db.prepare(`SELECT digest FROM ${DIGESTS} WHERE account = ? AND origin = ?`);
  const upsertDigest = db.prepare(`
    INSERT INTO ${DIGESTS} (account, origin, digest) VALUES (?, ?, ?)
    ON CONFLICT (account, origin) DO UPDATE SET digest = excluded.digest`);
  const deleteDigest = db.prepare(`DELETE FROM ${DIGESTS} WHERE account = ? AND origin = ?`);
  const selectDigests = db.prepare(`
    SELECT origin, digest FROM ${DIGESTS}
    WHERE account = ? AND origin IN (SELECT value FROM json_each(?))`);
  /** XORs `actorId`'s hash into or out of its server's digest, in the caller's transaction. */
  const toggle = (actorId: URL) => {
    const stored = selectDigest.get(account, actorId.origin)?.digest;
    const digest = toggled(stored instanceof Uint8Array ? stored : undefined, actorId.href);
    if (isZero(digest)) deleteDigest.run(account, actorId.origin);
    else upsertDigest.run(account, actorId.origin, digest);
  };
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
      // The write lock first: another process adding the same follower waits, so the hash
      // goes in once. A follower following again only refreshes its row.
      immediate(db, () => {
        const isNew = selectExists.get(account, follower.id.href) === undefined;
        insert.run(
          account,
          follower.id.href,
          follower.inbox.href,
          follower.sharedInbox?.href ?? null,
          follower.followId.href,
          follower.createdAt.getTime(),
        );
        if (isNew) toggle(follower.id);
      });
    },
    async removeByFollow(followId, actorId) {
      return immediate(db, () => {
        const removed = Number(deleteByFollow.run(account, followId.href, actorId.href).changes);
        if (removed > 0) toggle(actorId);
        return removed > 0;
      });
    },
    async removeByActor(actorId) {
      return immediate(db, () => {
        const removed = Number(deleteByActor.run(account, actorId.href).changes);
        if (removed > 0) toggle(actorId);
        return removed > 0;
      });
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
    async syncDigests(origins) {
      const rows = selectDigests.all(account, JSON.stringify(origins));
      return new Map(
        rows.map((row) => [
          String(row.origin),
          Buffer.from(row.digest as Uint8Array).toString("hex"),
        ]),
      );
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

/**
 * Creates the digest table if it is missing, and fills it from the followers already there (a
 * database of an older version): once, in the transaction that creates it, so another process
 * opening the file at the same time waits and finds it made. 100,000 followers on 10,000
 * servers took 0.4 s (the SHA-256 of each id most of it); later opens only look for the table.
 */
function createDigestTable(db: DatabaseSync): void {
  if (hasTable(db, DIGESTS)) return;
  immediate(db, () => {
    if (hasTable(db, DIGESTS)) return;
    db.exec(DIGESTS_TABLE);
    const insert = db.prepare(`INSERT INTO ${DIGESTS} (account, origin, digest) VALUES (?, ?, ?)`);
    for (const row of digestsOf(everyFollower(db))) insert.run(row.account, row.origin, row.digest);
  });
}

function* everyFollower(db: DatabaseSync): Generator<{ account: string; actorId: string }> {
  for (const row of db.prepare("SELECT account, actor_id FROM federation_followers").iterate()) {
    yield { account: String(row.account), actorId: String(row.actor_id) };
  }
}

function hasTable(db: DatabaseSync, name: string): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) != null
  );
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
