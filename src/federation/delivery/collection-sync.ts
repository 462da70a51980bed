/**
 * FEP-8fcf's `Collection-Synchronization` header (https://w3id.org/fep/8fcf), which a delivery
 * to followers carries so that their server can tell whether its list of who follows the account
 * matches ours: the followers collection, where to fetch that server's part of it, and the XOR
 * of the SHA-256 of each of its followers' ids.
 *
 * The same text as Fedify 2.3.6's `buildCollectionSynchronizationHeader()`, computed at once with
 * `node:crypto`: Fedify's awaits one `crypto.subtle.digest()` per follower, and builds every
 * inbox's header of a fan-out before the first delivery is sent (`deliver-now.ts`). A fan-out
 * remembers the headers it made for the next (`rememberingSyncHeaders()`).
 */
import { hash } from "node:crypto";

/** The header for a delivery to `actorIds` (one server's followers, at least one). */
export function collectionSyncHeader(collectionId: string, actorIds: readonly string[]): string {
  const url = new URL(collectionId);
  url.searchParams.set("base-url", `${new URL(actorIds[0] as string).origin}/`);
  return `collectionId="${collectionId}", url="${url}", digest="${followersDigest(actorIds)}"`;
}

/**
 * The digest of `actorIds` computed from scratch, in hex: what the follower stores keep up to
 * date one follower at a time (`FollowerStore.syncDigests()`), and what their tests check them
 * against.
 */
export function followersDigest(actorIds: readonly string[]): string {
  const digest = Buffer.alloc(32);
  for (const id of new Set(actorIds)) {
    const one = hash("sha256", id, "buffer");
    for (let i = 0; i < 32; i++) digest[i] = (digest[i] as number) ^ (one[i] as number);
  }
  return digest.toString("hex");
}

/**
 * Characters of keys (the collection and the followers' ids) whose headers
 * `rememberingSyncHeaders()` keeps: the ids of 100,000 followers of about 60 characters each fit
 * (6 MB), besides a header of about 250 bytes per server.
 */
export const SYNC_HEADER_BUDGET = 8 * 1024 * 1024;

/**
 * `make` (`collectionSyncHeader()`), remembering the headers it made while their keys, the
 * collection and the followers' ids, stay within `budget` characters in all; the oldest are
 * dropped first. A server's followers seldom change from one story to the next, and each header
 * costs a SHA-256 per follower: at 10 followers per server, a fifteenth of the main thread's
 * work per delivery (`bench/fanout.ts`). The followers are the key, so a follow or an unfollow
 * since gives a new header, never an old one.
 */
export function rememberingSyncHeaders(
  budget: number = SYNC_HEADER_BUDGET,
  make: typeof collectionSyncHeader = collectionSyncHeader,
): typeof collectionSyncHeader {
  const made = new Map<string, string>();
  let size = 0;
  return (collectionId, actorIds) => {
    // Ids are URLs, which hold no line breaks.
    const key = `${collectionId}\n${actorIds.join("\n")}`;
    const known = made.get(key);
    if (known !== undefined) return known;
    const header = make(collectionId, actorIds);
    if (key.length > budget) return header;
    made.set(key, header);
    size += key.length;
    for (const oldest of made.keys()) {
      if (size <= budget) break;
      made.delete(oldest);
      size -= oldest.length;
    }
    return header;
  };
}
