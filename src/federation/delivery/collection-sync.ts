/**
 * FEP-8fcf's `Collection-Synchronization` header (https://w3id.org/fep/8fcf), which a delivery
 * to followers carries so that their server can tell whether its list of who follows the account
 * matches ours: the followers collection, where to fetch that server's part of it, and the XOR
 * of the SHA-256 of each of its followers' ids.
 *
 * The same text as Fedify 2.3.6's `buildCollectionSynchronizationHeader()`, computed at once with
 * `node:crypto`: Fedify's awaits one `crypto.subtle.digest()` per follower, and builds every
 * inbox's header of a fan-out before the first delivery is sent (`deliver-now.ts`).
 */
import { hash } from "node:crypto";

/** The header for a delivery to `actorIds` (one server's followers, at least one). */
export function collectionSyncHeader(collectionId: string, actorIds: readonly string[]): string {
  const digest = Buffer.alloc(32);
  for (const id of new Set(actorIds)) {
    const one = hash("sha256", id, "buffer");
    for (let i = 0; i < 32; i++) digest[i] = (digest[i] as number) ^ (one[i] as number);
  }
  const url = new URL(collectionId);
  url.searchParams.set("base-url", `${new URL(actorIds[0] as string).origin}/`);
  return `collectionId="${collectionId}", url="${url}", digest="${digest.toString("hex")}"`;
}
