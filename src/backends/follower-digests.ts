/**
 * What both engines' follower stores share for FEP-8fcf's digests (https://w3id.org/fep/8fcf):
 * per account and per server (the origin of the followers' ids, as `base-url` names it), the
 * XOR of the SHA-256 of each follower's id.
 *
 * A store keeps one digest per server and updates it as a follower comes or goes, in the same
 * transaction as the follower's row: XOR is its own inverse, so a follow XORs the follower's
 * hash in and an unfollow XORs the same hash out. A delivery then reads the digest instead of
 * hashing every follower on the server each time (`deliver-now.ts`). A digest that comes back
 * to all zeros is deleted: its server has no followers left (a non-empty set XORing to zero is a
 * 2^-256 chance), so a server has a digest exactly when it has followers, as the backfill of an
 * older database (`digestsOf()`) makes them.
 *
 * Nothing checks them afterwards: followers changed behind the stores' back (by hand, or by a
 * process of a version before digests still running beside a newer one) leave them wrong. Drop
 * the digest table and the next start makes it again from the followers.
 */
import { hash } from "node:crypto";
import { followerOrigin } from "../federation/followers.ts";

/** Bytes of a digest: SHA-256's. */
const DIGEST_BYTES = 32;

/** `digest` with `actorId`'s hash XORed in, or out (the same thing); `undefined` is all zeros. */
export function toggled(digest: Uint8Array | undefined, actorId: string): Buffer {
  const result = hash("sha256", actorId, "buffer");
  if (digest === undefined) return result;
  for (let i = 0; i < DIGEST_BYTES; i++) result[i] = (result[i] as number) ^ (digest[i] ?? 0);
  return result;
}

export function isZero(digest: Uint8Array): boolean {
  return digest.every((byte) => byte === 0);
}

export interface DigestRow {
  readonly account: string;
  readonly origin: string;
  readonly digest: Buffer;
}

/**
 * The digests of `followers` from scratch, one per account and server: what a database made
 * before the stores kept digests is given once (`createTable()` of each engine). An id that is
 * no URL (none is stored so) is left out.
 */
export function digestsOf(
  followers: Iterable<{ readonly account: string; readonly actorId: string }>,
): DigestRow[] {
  const digests = new Map<string, DigestRow>();
  for (const { account, actorId } of followers) {
    const origin = followerOrigin(actorId);
    if (origin === undefined) continue;
    // Accounts and origins hold no line breaks (a section id, a URL's origin).
    const key = `${account}\n${origin}`;
    const known = digests.get(key);
    digests.set(key, { account, origin, digest: toggled(known?.digest, actorId) });
  }
  return [...digests.values()].filter((row) => !isZero(row.digest));
}
