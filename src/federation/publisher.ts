/**
 * Pushes change events to followers: created → `Create`, updated → `Update`,
 * deleted → `Delete` (a `Tombstone`), through Fedify's persistent queue.
 */
import {
  type Context,
  type DocumentLoader,
  type Federation,
  FetchError,
  type KvStore,
  type OutboxPermanentFailureHandler,
} from "@fedify/fedify";
import type { Recipient } from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import type { ChangeEvent } from "../article.ts";
import { DEFAULT_USERNAME } from "./actor.ts";
import type { FollowerStore } from "./followers.ts";
import { markUnreachable, recordRemovedFollower, unreachableServers } from "./gone-servers.ts";
import {
  DEFAULT_POST_TYPE,
  objectContextOf,
  objectId,
  type PostType,
  toActivity,
} from "./objects.ts";
import { toDate } from "./temporal.ts";

const logger = getLogger(["herald", "federation", "publisher"]);

export interface QuietImportOptions {
  /**
   * A created article whose `published` is older than this at its event is not pushed
   * (milliseconds; default 6 hours): Mastodon buries backdated posts, and a flood of
   * them reads as spam. It still appears in the outbox, featured and the feeds.
   */
  readonly maxAgeMs?: number;
  /**
   * Whether the articles of the store's first scan are an import that is not pushed (default
   * true). A scan records all its events at one time (`at`), however many batches deliver
   * them, and the store remembers when its first scan was, even one that found nothing: so
   * the first story written into an empty folder is news, and a replay decides alike.
   */
  readonly firstScan?: boolean;
}

export interface PublisherDeps {
  /** When the store's first scan was (`ArticleStore.firstScan`): what it found is an import. */
  readonly firstScan: () => Promise<Date | undefined>;
  /** The accepted relays' inboxes (`relayRecipients()`), which also get every activity. */
  readonly relays?: () => Promise<readonly Recipient[]>;
  /** Servers given up on as unreachable (`unreachableOrigins()`): skipped for now. */
  readonly unreachable?: () => Promise<readonly URL[]>;
}

export interface PublisherOptions {
  readonly origin: URL;
  /** The account's username (= actor identifier); default `news`. */
  readonly username?: string;
  /** Default `article`. */
  readonly postType?: PostType;
  readonly quietImport?: QuietImportOptions;
}

export type ChangeSubscriber = (events: readonly ChangeEvent[]) => Promise<void>;

export const DEFAULT_QUIET_IMPORT_AGE_MS = 6 * 60 * 60 * 1000;

/**
 * A change subscriber that enqueues one activity per event, in order, and returns once
 * all are durably queued. Activity ids derive from the object id and `seq`, so when a
 * crash makes the caller hand the same events again, receivers see the same ids and
 * drop the duplicates.
 */
export function createFederationPublisher(
  federation: Federation<void>,
  deps: PublisherDeps,
  options: PublisherOptions,
): ChangeSubscriber {
  const maxAgeMs = options.quietImport?.maxAgeMs ?? DEFAULT_QUIET_IMPORT_AGE_MS;
  const firstScanIsImport = options.quietImport?.firstScan ?? true;
  const username = options.username ?? DEFAULT_USERNAME;
  const postType = options.postType ?? DEFAULT_POST_TYPE;
  return async (events) => {
    const importScanAt = firstScanIsImport ? (await deps.firstScan())?.getTime() : undefined;
    const ctx: Context<void> = federation.createContext(options.origin, undefined);
    const objects = objectContextOf(ctx, username, postType);
    const relays = events.length === 0 ? [] : ((await deps.relays?.()) ?? []);
    const skipped = events.length === 0 ? [] : ((await deps.unreachable?.()) ?? []);
    for (const event of events) {
      if (event.type === "created") {
        if (importScanAt != null && event.at.getTime() <= importScanAt) {
          logger.debug("Not pushing {slug}: part of the initial import.", {
            slug: event.article.slug,
          });
          continue;
        }
        if (event.at.getTime() - event.article.published.getTime() > maxAgeMs) {
          logger.info("Not pushing {slug}: published {published}, long before it was found.", {
            slug: event.article.slug,
            published: event.article.published.toISOString(),
          });
          continue;
        }
      }
      const activity = toActivity(event, objects);
      // Create, Update and Delete of one article arrive in the order they happened.
      const orderingKey = objectId(event.article.id, objects).href;
      await ctx.sendActivity({ identifier: username }, "followers", activity, {
        preferSharedInbox: true,
        // FEP-8fcf: lets Mastodon drop follows we no longer know about.
        syncCollection: true,
        orderingKey,
        excludeBaseUris: [...skipped],
      });
      // Every post is public: relays get them all.
      if (relays.length > 0) {
        await ctx.sendActivity({ identifier: username }, [...relays], activity, { orderingKey });
      }
      logger.info("Queued {type} of {slug} for followers{relays}{skipped}.", {
        type: activityName[event.type],
        slug: event.article.slug,
        relays:
          relays.length === 0 ? "" : ` and ${relays.length} relay${relays.length === 1 ? "" : "s"}`,
        skipped:
          skipped.length === 0
            ? ""
            : `, not for those on ${skipped.map((origin) => origin.host).join(", ")} (unreachable)`,
      });
    }
  };
}

const activityName = { created: "Create", updated: "Update", deleted: "Delete" } as const;

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
    for (const actorId of failure.actorIds) {
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
      "{inbox} answered {status}: removed {removed} of {checked} followers there, whose accounts are gone; {kept} still answer and stay.",
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
