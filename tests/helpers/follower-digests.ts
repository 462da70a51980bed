/**
 * FEP-8fcf digests computed from scratch, for the follower stores' tests to check theirs
 * against, and random follows and unfollows to check them with.
 */
import { hash } from "node:crypto";
import { syncHeader } from "../../src/federation/delivery/collection-sync.ts";
import type { Follower } from "../../src/federation/followers.ts";

/**
 * The digest of `actorIds` computed from scratch, in hex, written apart from the stores' own
 * (`backends/follower-digests.ts`): what they keep up to date one follower at a time is checked
 * against it.
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
 * scratch, as Fedify computes it (`collection-sync.test.ts` holds the two together).
 */
export function collectionSyncHeader(collectionId: string, actorIds: readonly string[]): string {
  const origin = new URL(actorIds[0] as string).origin;
  return syncHeader(collectionId, origin, followersDigest(actorIds));
}

/** The digest of `actorIds` on each of their servers, as `syncDigests()` answers it. */
export function digestsFromScratch(actorIds: Iterable<string>): Map<string, string> {
  const byOrigin = new Map<string, string[]>();
  for (const id of actorIds) {
    const origin = new URL(id).origin;
    byOrigin.set(origin, [...(byOrigin.get(origin) ?? []), id]);
  }
  return new Map([...byOrigin].map(([origin, ids]) => [origin, followersDigest(ids)]));
}

/** The servers of `digestFollower()`'s followers (one with a port, one in IDNA, one http). */
export const DIGEST_ORIGINS = [
  "https://a.test",
  "https://b.test",
  "https://c.test:8443",
  "https://xn--mller-kva.test",
  "http://d.test",
] as const;

/** Follower `user` of server `server` (of `DIGEST_ORIGINS`), following with `follow`. */
export function digestFollower(server: number, user: number, follow: number): Follower {
  const origin = DIGEST_ORIGINS[server % DIGEST_ORIGINS.length] as string;
  return {
    id: new URL(`${origin}/users/u${user}`),
    inbox: new URL(`${origin}/users/u${user}/inbox`),
    ...(server % 2 === 0 ? { sharedInbox: new URL(`${origin}/inbox`) } : {}),
    followId: new URL(`${origin}/follows/${follow}`),
    createdAt: new Date(Date.UTC(2026, 2, 1) + follow * 1000),
  };
}
