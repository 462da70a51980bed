/**
 * Followers and servers Herald gives up on (issue #12.6): followers whose accounts or whole
 * servers are gone are removed; a server unreachable for longer than deliveries are held is
 * skipped for a while. Fedify's permanent-failure handler decides (`onPermanentFailure()`);
 * records in the key–value store (any engine) tell the publisher and `npm run doctor`.
 */
import {
  type DocumentLoader,
  FetchError,
  type KvKey,
  type KvStore,
  type OutboxPermanentFailureHandler,
} from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import type { FollowerStore } from "../followers.ts";
import { toDate, toDuration } from "../temporal.ts";

const logger = getLogger(["herald", "federation", "gone-servers"]);

export interface RemovedFollower {
  readonly actor: URL;
  readonly at: Date;
  /** E.g. `its server is gone: HTTP 410 for its actor and HTTP 410 for https://gone.example/inbox`. */
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

/** What the permanent-failure handler needs: the followers, where to record, whom to sign as. */
export interface PermanentFailureDeps {
  readonly followers: FollowerStore;
  readonly kv: KvStore;
  /** The account's identifier: actor checks are signed, as authorized-fetch servers require. */
  readonly identifier: string;
}

/** Statuses that mean "gone for good" (Fedify's default permanent failures). */
const GONE_STATUSES: readonly number[] = [404, 410];
/** Follower actors checked at once after a shared inbox is gone: a few, not a flood. */
const ACTOR_CHECKS_AT_ONCE = 4;

/**
 * Fedify gave up on a delivery for good:
 * - a follower's own inbox answers 410: the account is gone, the follower is removed;
 * - a shared inbox (or an own inbox) answers 410 or 404: the inbox speaks for a whole server,
 *   so each follower's actor is asked; those gone (410, 404) are removed, the others stay;
 * - a server held unreachable for longer than the retries (`circuit-breaker-ttl`): it is
 *   reported and skipped by later deliveries (`unreachableOrigins()`).
 * Removed followers and unreachable servers are recorded for `npm run doctor`.
 */
export function onPermanentFailure(
  deps: PermanentFailureDeps,
): OutboxPermanentFailureHandler<void> {
  return async (ctx, failure) => {
    if (failure.reason === "circuit-breaker-ttl") {
      const since = failure.circuitHeldSince ? toDate(failure.circuitHeldSince) : new Date();
      if (await markUnreachable(deps.kv, failure.inbox, since)) {
        logger.warn(
          "Stopped delivering to {host}: unreachable since {since}, longer than deliveries are retried; its followers stay, and get posts again once it answers.",
          { host: failure.inbox.host, since: since.toISOString() },
        );
      }
      return;
    }
    if (!GONE_STATUSES.includes(failure.statusCode)) return;
    const toCheck: URL[] = [];
    for (const actorId of await followersThere(deps.followers, failure)) {
      const follower = await deps.followers.get(actorId);
      if (follower == null) continue;
      if (failure.statusCode === 410 && follower.inbox.href === failure.inbox.href) {
        await removeFollower(deps, actorId, `its inbox ${failure.inbox.href} answered 410`);
        logger.info("Removed follower {actor}: its inbox is gone.", { actor: actorId.href });
      } else {
        toCheck.push(actorId);
      }
    }
    if (toCheck.length === 0) return;
    const loader = await ctx.getDocumentLoader({ identifier: deps.identifier });
    const gone = await inBatches(toCheck, ACTOR_CHECKS_AT_ONCE, async (actorId) => {
      const status = await goneStatus(loader, actorId);
      if (status === undefined) return false;
      const reason = `its server is gone: HTTP ${status} for its actor and HTTP ${failure.statusCode} for ${failure.inbox.href}`;
      await removeFollower(deps, actorId, reason);
      logger.info("Removed follower {actor}: {reason}.", { actor: actorId.href, reason });
      return true;
    });
    const removed = gone.filter(Boolean).length;
    logger.warn(
      "{inbox} answered {status}: of the {checked} followers there, {removed} are gone too and were removed; {kept} still answer and stay.",
      {
        inbox: failure.inbox.href,
        status: failure.statusCode,
        removed,
        checked: toCheck.length,
        kept: toCheck.length - removed,
      },
    );
  };
}

/**
 * The followers the failed delivery was for: those it named, and those the store has behind its
 * inbox (a delivery to followers names one per inbox unless its fan-out named them all:
 * `dispatchFollowers()` of `collections.ts`).
 */
async function followersThere(
  followers: FollowerStore,
  failure: { readonly inbox: URL; readonly actorIds: readonly URL[] },
): Promise<URL[]> {
  const ids = new Set(failure.actorIds.map((id) => id.href));
  for (const group of await followers.inboxes({ inboxes: [failure.inbox.href] })) {
    for (const id of group.actorIds) ids.add(id);
  }
  return [...ids].map((id) => new URL(id));
}

async function removeFollower(
  deps: PermanentFailureDeps,
  actor: URL,
  reason: string,
): Promise<void> {
  if (!(await deps.followers.removeByActor(actor))) return; // another worker was first
  await recordRemovedFollower(deps.kv, { actor, at: new Date(), reason });
}

/**
 * The status of an actor that is gone (410 or 404), or `undefined` while it answers anything
 * else, or nothing: a server that does not answer is not known to be gone. Each request is
 * bounded by `REQUEST_TIMEOUT_SECONDS` (`outgoing.ts`).
 */
async function goneStatus(loader: DocumentLoader, actorId: URL): Promise<number | undefined> {
  try {
    await loader(actorId.href);
    return undefined;
  } catch (error) {
    const status = error instanceof FetchError ? error.response?.status : undefined;
    return status !== undefined && GONE_STATUSES.includes(status) ? status : undefined;
  }
}

/** `work` over `items`, at most `limit` at a time, results in order. */
async function inBatches<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += limit) {
    results.push(...(await Promise.all(items.slice(start, start + limit).map(work))));
  }
  return results;
}

/** The origins of the servers deliveries skip for now (`excludeBaseUris`). */
export async function unreachableOrigins(kv: KvStore): Promise<URL[]> {
  return (await unreachableServers(kv)).map((server) => server.origin);
}

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
 * Records that deliveries to the server of `inbox` are given up on, held since `since`; answers
 * whether it was not recorded yet (a server is reported once, not once per activity).
 */
export async function markUnreachable(
  kv: KvStore,
  inbox: URL,
  since: Date,
  now: Date = new Date(),
): Promise<boolean> {
  const key = unreachableKey(inbox.host);
  const before = await kv.get<StoredUnreachable>(key);
  const earliest =
    before === undefined ? since : new Date(Math.min(Date.parse(before.since), since.getTime()));
  const value: StoredUnreachable = {
    origin: inbox.origin,
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
