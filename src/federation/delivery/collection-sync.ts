/**
 * FEP-8fcf's `Collection-Synchronization` header (https://w3id.org/fep/8fcf), which a delivery
 * to followers carries so that their server can tell whether its list of who follows the account
 * matches ours: the followers collection, where to fetch that server's part of it, and the XOR
 * of the SHA-256 of each of its followers' ids.
 *
 * The same text as Fedify 2.3.6's `buildCollectionSynchronizationHeader()`. The digest itself is
 * kept by the follower store, updated as followers come and go (`FollowerStore.syncDigests()`),
 * so a delivery hashes no follower: Fedify's awaits one `crypto.subtle.digest()` per follower on
 * the server for every delivery there.
 */
import { hash } from "node:crypto";

/** The header for a delivery to the followers on the server `origin`, whose digest is `digest`. */
export function syncHeader(collectionId: string, origin: string, digest: string): string {
  const url = new URL(collectionId);
  url.searchParams.set("base-url", `${origin}/`);
  return `collectionId="${collectionId}", url="${url}", digest="${digest}"`;
}

/**
 * The digest of `actorIds` computed from scratch, in hex: what the stores keep up to date one
 * follower at a time, and what their tests check them against.
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
 * The header for a delivery to `actorIds` (one server's followers, at least one) computed from
 * scratch, as Fedify computes it: the reference the stored digests are tested against.
 */
export function collectionSyncHeader(collectionId: string, actorIds: readonly string[]): string {
  const origin = new URL(actorIds[0] as string).origin;
  return syncHeader(collectionId, origin, followersDigest(actorIds));
}
