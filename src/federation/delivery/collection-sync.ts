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
/** The header for a delivery to the followers on the server `origin`, whose digest is `digest`. */
export function syncHeader(collectionId: string, origin: string, digest: string): string {
  const url = new URL(collectionId);
  url.searchParams.set("base-url", `${origin}/`);
  return `collectionId="${collectionId}", url="${url}", digest="${digest}"`;
}
