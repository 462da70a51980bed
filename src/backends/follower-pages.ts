/**
 * What both engines' follower stores share: the keyset cursor of `list()` and the groups of
 * `inboxes()`.
 *
 * Pages are keyset pages over the `(created_at, actor_id)` index: a page after the 99,980th
 * follower reads 21 index entries, where `OFFSET 99980` walked them all (tens of ms at 100,000
 * followers). The cursor names the last follower of the page before it:
 * `k<created_at in ms>.<actor id, base64url>`. A bare number is still read as an offset, so
 * a page link handed out before keyset pages keeps working.
 */
import type { InboxGroup } from "../federation/followers.ts";

export type FollowerCursor =
  | { readonly after: { readonly createdAt: Date; readonly actorId: string } }
  | { readonly offset: number };

export function encodeFollowerCursor(createdAt: Date, actorId: string): string {
  return `k${createdAt.getTime()}.${Buffer.from(actorId, "utf8").toString("base64url")}`;
}

/** The position a cursor names; the start for none or one that does not parse. */
export function decodeFollowerCursor(cursor: string | undefined): FollowerCursor {
  const keyset = /^k(\d{1,15})\.([A-Za-z0-9_-]{1,2800})$/.exec(cursor ?? "");
  if (keyset !== null) {
    const createdAt = new Date(Number(keyset[1]));
    const actorId = Buffer.from(keyset[2] ?? "", "base64url").toString("utf8");
    return { after: { createdAt, actorId } };
  }
  const offset = cursor != null && /^\d{1,9}$/.test(cursor) ? Number(cursor) : 0;
  return { offset };
}

/**
 * The range of actor ids starting with `prefix`, for an index range scan: from the prefix up to
 * it followed by the highest code point (ids compare by code point in both engines).
 */
export function prefixRange(prefix: string): { readonly from: string; readonly to: string } {
  return { from: prefix, to: `${prefix}\u{10FFFF}` };
}

/**
 * One row of `inboxes()`, grouped by the database: the inbox a delivery goes to (the shared one
 * where there is one), whether it is shared, and the ids of the followers it serves, joined by
 * {@link ACTOR_SEPARATOR}.
 */
export interface InboxGroupRow {
  readonly target: string;
  readonly shared: boolean;
  readonly actors: string;
}

/**
 * Between the actor ids of an {@link InboxGroupRow}: an id is a URL's serialisation, which has
 * no raw newline. Grouped by the database, 10,000 followers cross into JavaScript as 1,000 rows
 * instead of 10,000 (half the time of grouping them here, issue #17).
 */
export const ACTOR_SEPARATOR = "\n";

/** The groups of `rows`: one `URL` per inbox, the actor ids as they are. */
export function toInboxGroups(rows: readonly InboxGroupRow[]): InboxGroup[] {
  return rows.map((row) => ({
    inbox: new URL(row.target),
    sharedInbox: row.shared,
    actorIds: row.actors.split(ACTOR_SEPARATOR),
  }));
}
