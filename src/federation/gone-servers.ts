/**
 * What Herald gave up on, kept in the key–value store (any engine) for `npm run doctor`:
 * followers removed because their accounts or servers are gone, and servers unreachable for
 * longer than deliveries are retried, to which nothing is sent for a while (issue #12.6).
 */
import type { KvKey, KvStore } from "@fedify/fedify";
import { toDuration } from "./temporal.ts";

export interface RemovedFollower {
  readonly actor: URL;
  readonly at: Date;
  /** E.g. `its server is gone: HTTP 410 for its actor and for https://gone.example/inbox`. */
  readonly reason: string;
}

export interface UnreachableServer {
  /** The origin of its inboxes, e.g. `https://down.example`. */
  readonly origin: URL;
  /** When the first delivery given up on began to be held. */
  readonly since: Date;
  /** Deliveries to it are skipped until then, unless it answers again before. */
  readonly until: Date;
}

/** A removed follower is listed this long. */
export const KEEP_REMOVED_MS = 90 * 24 * 60 * 60 * 1000;
/**
 * How long nothing is sent to an unreachable server. Then the next story is tried again:
 * a server back after a long outage gets posts again, one still down is given up on again.
 */
export const SKIP_UNREACHABLE_MS = 30 * 24 * 60 * 60 * 1000;

const removedPrefix: KvKey = ["herald", "removed-follower"];
const unreachablePrefix: KvKey = ["herald", "unreachable"];

interface StoredRemoved {
  readonly actor: string;
  readonly at: string;
  readonly reason: string;
}

interface StoredUnreachable {
  readonly origin: string;
  readonly since: string;
  readonly until: string;
}

/** One key per follower, so that workers removing followers at once never overwrite each other. */
export async function recordRemovedFollower(kv: KvStore, removed: RemovedFollower): Promise<void> {
  const value: StoredRemoved = {
    actor: removed.actor.href,
    at: removed.at.toISOString(),
    reason: removed.reason,
  };
  await kv.set([...removedPrefix, removed.actor.href], value, {
    ttl: toDuration(KEEP_REMOVED_MS),
  });
}

/** The followers removed in the last 90 days, newest first. */
export async function removedFollowers(kv: KvStore): Promise<RemovedFollower[]> {
  const removed: RemovedFollower[] = [];
  for await (const { value } of kv.list(removedPrefix)) {
    const stored = value as StoredRemoved;
    removed.push({ actor: new URL(stored.actor), at: new Date(stored.at), reason: stored.reason });
  }
  return removed.sort((a, b) => b.at.getTime() - a.at.getTime());
}

/**
 * Records that deliveries to `origin` are given up on, held since `since`; answers whether it
 * was not recorded yet (a server is reported once, not once per activity given up on).
 */
export async function markUnreachable(
  kv: KvStore,
  origin: URL,
  since: Date,
  now: Date = new Date(),
): Promise<boolean> {
  const key = unreachableKey(origin.host);
  const before = await kv.get<StoredUnreachable>(key);
  const earliest =
    before === undefined ? since : new Date(Math.min(Date.parse(before.since), since.getTime()));
  const value: StoredUnreachable = {
    origin: origin.origin,
    since: earliest.toISOString(),
    until: new Date(now.getTime() + SKIP_UNREACHABLE_MS).toISOString(),
  };
  await kv.set(key, value, { ttl: toDuration(SKIP_UNREACHABLE_MS) });
  return before === undefined;
}

/** A delivery to `host` went through again: it is reachable. Answers whether it was marked. */
export async function clearUnreachable(kv: KvStore, host: string): Promise<boolean> {
  const key = unreachableKey(host);
  if ((await kv.get(key)) === undefined) return false;
  await kv.delete(key);
  return true;
}

/** The servers deliveries currently skip. */
export async function unreachableServers(kv: KvStore): Promise<UnreachableServer[]> {
  const servers: UnreachableServer[] = [];
  for await (const { value } of kv.list(unreachablePrefix)) {
    const stored = value as StoredUnreachable;
    servers.push({
      origin: new URL(stored.origin),
      since: new Date(stored.since),
      until: new Date(stored.until),
    });
  }
  return servers.sort((a, b) => a.since.getTime() - b.since.getTime());
}

function unreachableKey(host: string): KvKey {
  return [...unreachablePrefix, host];
}
