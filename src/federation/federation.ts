/**
 * The fediverse account, wired in one place: every route Fedify serves, read top to
 * bottom like a route table. Handlers live in their own modules; this file only connects.
 */
import {
  type CircuitBreakerActivityDrop,
  type CircuitBreakerOptions,
  type CircuitBreakerState,
  type CreateExponentialBackoffPolicyOptions,
  createExponentialBackoffPolicy,
  createFederation,
  type Federation,
  type KvStore,
  type MessageQueue,
} from "@fedify/fedify";
import { Article as ArticleObject, Note, QuoteAuthorization } from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import type { Dispatcher } from "undici";
import type { Article } from "../article.ts";
import { DEFAULT_DELIVERY_WORKERS } from "../config.ts";
import type { QuotePolicy } from "../interactions.ts";
import { paths } from "../urls.ts";
import type { ActorType, ProfileField } from "./actor.ts";
import { registerActors } from "./actors.ts";
import type { PublishedArticles } from "./articles.ts";
import { mainCollections, type ObjectContextFor, registerCollections } from "./collections.ts";
import { type DeliverNowDeps, deliverNow, type SyncDigests } from "./delivery/deliver-now.ts";
import { sliceFanouts } from "./delivery/fanout-slices.ts";
import { DRAFT_CAVAGE, firstTryIsNext, sendFirstTries } from "./delivery/first-try.ts";
import { type FollowersBehind, nameFollowersBehind } from "./delivery/followers-behind.ts";
import { clearUnreachable, onPermanentFailure } from "./delivery/gone-servers.ts";
import { cacheDeliveryState, type DeliveryKvCache } from "./delivery/kv-cache.ts";
import { heraldUserAgent } from "./delivery/outgoing.ts";
import { everyAccount, type FollowerStore } from "./followers.ts";
import { registerInbox } from "./inbox.ts";
import { withoutQueuedIdempotence } from "./interactions/idempotency.ts";
import { findQuoteAuthorization, quoteAuthorizationPath } from "./interactions/quotes.ts";
import type { InteractionStore } from "./interactions/store.ts";
import type { AccountKeys } from "./keys.ts";
import { knownMentions } from "./mentions.ts";
import { type NodeInfoSite, toNodeInfo } from "./nodeinfo.ts";
import {
  DEFAULT_POST_TYPE,
  type ObjectContext,
  objectContextOf,
  type PostType,
  toArticleObject,
  toNote,
} from "./objects.ts";
import { followersBySection, type SectionAccounts } from "./sections/accounts.ts";
import { sectionCollections } from "./sections/collections.ts";

const logger = getLogger(["herald", "federation"]);

/** Fedify's URI templates. `object` must stay `paths.object()` of `src/urls.ts`. */
export const federationPaths = {
  actor: "/users/{identifier}",
  inbox: "/users/{identifier}/inbox",
  sharedInbox: "/inbox",
  outbox: "/users/{identifier}/outbox",
  followers: "/users/{identifier}/followers",
  following: "/users/{identifier}/following",
  featured: "/users/{identifier}/featured",
  object: "/objects/{id}",
  quoteAuthorization: quoteAuthorizationPath,
  nodeInfo: "/nodeinfo/2.1",
} as const;

/** The profile as configured: everything optional, `resolveProfile()` fills in the rest. */
export interface ProfileOptions {
  readonly type?: ActorType;
  readonly name?: string;
  readonly summary?: string | undefined;
  readonly avatar?: URL;
  readonly header?: URL;
  /** The home page; default the origin's `/`. */
  readonly url?: URL;
  /** Default: the web site and its three feeds. */
  readonly fields?: readonly ProfileField[];
  readonly discoverable?: boolean;
  readonly indexable?: boolean;
  /** Default: when the key pairs were created. */
  readonly published?: Date;
  /** `ALIASES`, resolved to actor URLs: `alsoKnownAs`. */
  readonly aliases?: readonly URL[];
}

export interface FederationOptions {
  /** `PUBLIC_URL`: every id and the handle's host derive from it, even behind a proxy. */
  readonly origin: URL;
  /** `ACCOUNT_USERNAME`. It is also the actor's identifier in its URLs. */
  readonly username: string;
  /** Lets federation reach loopback/private addresses and plain-http peers: tests only. */
  readonly allowPrivateAddress?: boolean;
  readonly profile?: ProfileOptions;
  /** Default `article`. */
  readonly postType?: PostType;
  /** The site's name, description and language, for NodeInfo's `metadata`. */
  readonly site?: NodeInfoSite;
  /** `TIME_ZONE`, for the dates of correction notices; default UTC. */
  readonly timeZone?: string;
  /** `QUOTE_POLICY`: whose quote posts are authorized; default `public`. */
  readonly quotePolicy?: QuotePolicy;
  /** Outgoing delivery retries; default: from a minute up to 12 h apart, for about 4 days. */
  readonly retry?: CreateExponentialBackoffPolicyOptions;
  /** Inboxes per queued slice of a fan-out; default `FANOUT_SLICE` (tests make it small). */
  readonly fanoutSlice?: number;
  /** `DELIVERY_WORKERS`: deliveries run at once by the fan-outs being expanded. */
  readonly deliveryWorkers?: number;
  /** Overrides `CIRCUIT_BREAKER` (tests shorten its durations). */
  readonly circuitBreaker?: Pick<CircuitBreakerOptions, "recoveryDelay" | "heldActivityTtl">;
}

export interface FederationDeps {
  readonly store: PublishedArticles;
  readonly kv: KvStore;
  readonly queue: MessageQueue;
  /**
   * The listener of the queue under `queue`'s wrappers (`keepListener()`) and the ledger: with
   * them a fan-out's first tries are delivered as it is expanded (`delivery/deliver-now.ts`)
   * instead of stored.
   */
  readonly deliverNow?: DeliverNowDeps;
  /** What first tries are sent through (`createFirstTryDispatcher()`); default the global one. */
  readonly firstTryDispatcher?: Dispatcher;
  readonly keys: AccountKeys;
  readonly followers: FollowerStore;
  /** Where replies, likes and boosts are kept; without it they are ignored. */
  readonly interactions?: InteractionStore;
  /** Told of each failed delivery attempt (for the delivery ledger). */
  readonly onDeliveryError?: (error: unknown) => void;
  /** The section accounts (`SECTIONS`), by id. */
  readonly sections?: SectionAccounts;
}

/**
 * Fedify's default gives up after about half an hour; a server that is down for a day
 * or a weekend must still get the posts. 16 attempts: ~1 min doubling to 12 h, ~4 days.
 */
export const DEFAULT_RETRY: CreateExponentialBackoffPolicyOptions = {
  initialDelay: { minutes: 1 },
  maxDelay: { hours: 12 },
  maxAttempts: 16,
};

/**
 * Per remote host: a server that is down is not hammered, and its deliveries wait (held in
 * the queue, counted as pending) instead of taking workers from everyone else's. Five
 * failures in a row, with no delivery to the host between them, open the circuit; one probe
 * every 30 minutes after that. (Not "five within ten minutes": the retries of one story to a
 * dead server back off past that window, so a small server that is gone for good would never
 * open it, each story being retried for ~4 days and given up on alone, the server itself never
 * reported.) Held activities are dropped after 7 days, beyond the ~4 days of retries, so a
 * server that comes back within the retry horizon still gets everything; a drop reports the
 * server as unreachable and later stories skip it (`onPermanentFailure` in `delivery/gone-servers.ts`).
 */
export const CIRCUIT_BREAKER = {
  failure: (failures: readonly Temporal.Instant[]) => failures.length >= 5,
  recoveryDelay: { minutes: 30 },
  heldActivityTtl: { days: 7 },
} satisfies CircuitBreakerOptions;

export function buildFederation(
  options: FederationOptions,
  deps: FederationDeps,
): Federation<void> {
  const kv = cacheDeliveryState(withoutQueuedIdempotence(deps.kv));
  // The queue reads followers by the collection a fan-out names, which the federation parses.
  let federation: Federation<void> | undefined;
  const followersAt = (collectionId: string) => {
    const route = federation?.createContext(options.origin).parseUri(new URL(collectionId));
    return route?.type === "followers" ? followersOf(deps, options, route.identifier) : undefined;
  };
  const followersBehind: FollowersBehind = async (collectionId, inboxes) => {
    const groups = (await followersAt(collectionId)?.inboxes({ inboxes })) ?? [];
    return new Map(groups.map((group) => [group.inbox.href, group.actorIds]));
  };
  const syncDigests: SyncDigests = async (collectionId, origins) =>
    (await followersAt(collectionId)?.syncDigests(origins)) ?? new Map();
  federation = createFederation<void>({
    kv,
    queue: deliveryQueue(deps, options, kv, { followersBehind, syncDigests }),
    origin: options.origin.origin,
    allowPrivateAddress: options.allowPrivateAddress ?? false,
    // Fedify's own GETs say so too; `delivery/outgoing.ts` sets it on every request, deliveries included.
    userAgent: heraldUserAgent(options.origin),
    // Deliveries run where the process's role says (`delivery/worker.ts` calls startQueue()), never as a
    // side effect of enqueueing: a web process must not deliver.
    manuallyStartQueue: true,
    // Mastodon and Fedify peers understand draft-cavage; skip the RFC 9421 knock first.
    firstKnock: DRAFT_CAVAGE,
    outboxRetryPolicy: createExponentialBackoffPolicy(options.retry ?? DEFAULT_RETRY),
    circuitBreaker: {
      ...CIRCUIT_BREAKER,
      ...options.circuitBreaker,
      onStateChange: (host, from, to) => circuitChanged(deps.kv, host, from, to),
      onActivityDrop: logDrop,
    },
    onOutboxError: (error) => deps.onDeliveryError?.(error),
  });
  registerFederation(federation, options, deps);
  return federation;
}

/** The followers of the account `identifier` names (the main one or a section), if any. */
function followersOf(
  deps: Pick<FederationDeps, "followers" | "sections">,
  options: Pick<FederationOptions, "username">,
  identifier: string,
): FollowerStore | undefined {
  if (identifier === options.username) return deps.followers;
  return deps.sections?.get(identifier)?.followers;
}

/**
 * Herald sends each delivery's first try itself, the lean way; Fedify takes what fails. A
 * fan-out to many servers is queued and expanded a slice at a time, and the first tries of a
 * slice are delivered as it is expanded.
 */
function deliveryQueue(
  deps: Pick<FederationDeps, "queue" | "deliverNow" | "firstTryDispatcher">,
  options: Pick<FederationOptions, "fanoutSlice" | "deliveryWorkers">,
  kv: DeliveryKvCache,
  followers: { readonly followersBehind: FollowersBehind; readonly syncDigests: SyncDigests },
): MessageQueue {
  const firstTries = {
    kv,
    firstKnock: DRAFT_CAVAGE,
    ...(deps.firstTryDispatcher === undefined ? {} : { dispatcher: deps.firstTryDispatcher }),
  };
  const queue = nameFollowersBehind(
    sendFirstTries(sliceFanouts(deps.queue, options.fanoutSlice), firstTries),
    followers.followersBehind,
  );
  if (deps.deliverNow === undefined) return queue;
  return deliverNow(queue, {
    ...deps.deliverNow,
    isNext: firstTryIsNext(firstTries),
    beforeExpanding: () => kv.readCircuits(),
    concurrency: options.deliveryWorkers ?? DEFAULT_DELIVERY_WORKERS,
    syncDigests: followers.syncDigests,
  });
}

async function circuitChanged(
  kv: KvStore,
  host: string,
  from: CircuitBreakerState,
  to: CircuitBreakerState,
): Promise<void> {
  if (to === "open") {
    logger.warn("Deliveries to {host} paused: it kept failing; trying again later.", { host });
  } else if (to === "closed") {
    logger.info("Deliveries to {host} resumed.", { host, from });
    // A server given up on as unreachable answered a held delivery: stories go to it again.
    if (await clearUnreachable(kv, host)) {
      logger.info("{host} is reachable again: new posts go to it again.", { host });
    }
  }
}

function logDrop(host: string, drop: CircuitBreakerActivityDrop): void {
  logger.error("Gave up on {type} {id} for {inbox}: {host} was unreachable since {since}.", {
    host,
    type: drop.activityType,
    id: drop.activityId,
    inbox: drop.inbox.href,
    since: drop.heldSince.toString(),
  });
}

/**
 * Registers every dispatcher and listener on `federation` (a real one, or
 * `@fedify/testing`'s mock). Setters are called one by one, not chained: the mock's
 * setters return the federation, not themselves.
 */
export function registerFederation(
  federation: Federation<void>,
  options: FederationOptions,
  deps: FederationDeps,
): void {
  const { store, followers } = deps;
  const { username } = options;
  const postType = options.postType ?? DEFAULT_POST_TYPE;
  const isAccount = (identifier: string) => identifier === username;
  const sectionOf = (identifier: string) => deps.sections?.get(identifier);
  const objectContext = (ctx: Parameters<typeof objectContextOf>[0]) =>
    objectContextOf(ctx, username, postType, options.timeZone, options.quotePolicy);
  // A served post (alone, or in the outbox and featured) names its author's account as the
  // delivered one did (only what the publisher already looked up: a GET never makes Herald
  // look anyone up).
  const withAuthors = async (
    ctx: Parameters<typeof objectContextOf>[0],
    articles: readonly Article[],
  ) => ({ ...objectContext(ctx), mentions: await knownMentions(deps.kv, articles) });
  const published = async (id: string): Promise<Article | null> => {
    const record = await store.findById(id);
    return record?.state === "published" ? record.article : null;
  };
  // The actors (the account's and the sections'), their keys, and the handles WebFinger resolves.
  registerActors(federation, options, deps);

  // Inboxes: personal and shared.
  registerInbox(federation.setInboxListeners(federationPaths.inbox, federationPaths.sharedInbox), {
    followers,
    sections: followersBySection(deps.sections),
    kv: deps.kv,
    identifier: username,
    allowPrivateAddress: options.allowPrivateAddress ?? false,
    ...(deps.interactions ? { interactions: deps.interactions } : {}),
    ...(options.quotePolicy ? { quotePolicy: options.quotePolicy } : {}),
    articleOf: async (url) => {
      const id = articleIdOf(options.origin, url);
      return id !== undefined && (await published(id)) ? id : undefined;
    },
  });

  // Collections: outbox, followers, following, featured.
  const main = mainCollections(store, followers, withAuthors);
  const sectionCollectionsDeps = { store, kv: deps.kv, objectContext: withAuthors };
  registerCollections(federation, federationPaths, {
    accountOf: (identifier) => {
      if (isAccount(identifier)) return main;
      const section = sectionOf(identifier);
      return section ? sectionCollections(section, sectionCollectionsDeps) : undefined;
    },
  });

  // Articles and the quote authorizations of their quotes.
  registerObjects(federation, {
    postType,
    username,
    published,
    objectContext: withAuthors,
    ...(deps.interactions ? { interactions: deps.interactions } : {}),
  });

  federation.setNodeInfoDispatcher(federationPaths.nodeInfo, async () =>
    toNodeInfo(await store.countPublished(), undefined, options.site),
  );

  // Gone followers are removed, unreachable servers reported and skipped (issue #12.6).
  const everyFollower = everyAccount([followers, ...followersBySection(deps.sections).values()]);
  const givenUp = onPermanentFailure({
    followers: everyFollower,
    kv: deps.kv,
    identifier: username,
  });
  federation.setOutboxPermanentFailureHandler(async (ctx, failure) => {
    deps.onDeliveryError?.(failure.error);
    await givenUp(ctx, failure);
  });
}

interface ObjectsDeps {
  readonly postType: PostType;
  readonly username: string;
  /** The article with that id, if it is published. */
  readonly published: (id: string) => Promise<Article | null>;
  readonly objectContext: ObjectContextFor;
  readonly interactions?: InteractionStore;
}

/**
 * Articles at `paths.object(id)`: deleted ones answer 410 in `http/federation/negotiation.ts`
 * (Fedify's object dispatchers cannot answer with a status other than 200 or 404). And the
 * quote authorizations (FEP-044f), while their story is published and keeps the quote.
 */
function registerObjects(federation: Federation<void>, deps: ObjectsDeps): void {
  const { published, objectContext } = deps;
  if (deps.postType === "note") {
    federation.setObjectDispatcher(Note, federationPaths.object, async (ctx, { id }) => {
      const article = await published(id);
      return article == null ? null : toNote(article, await objectContext(ctx, [article]));
    });
  } else {
    federation.setObjectDispatcher(ArticleObject, federationPaths.object, async (ctx, { id }) => {
      const article = await published(id);
      return article == null ? null : toArticleObject(article, await objectContext(ctx, [article]));
    });
  }
  const { interactions } = deps;
  if (interactions === undefined) return;
  const quotes = { store: interactions, identifier: deps.username };
  federation.setObjectDispatcher(
    QuoteAuthorization,
    federationPaths.quoteAuthorization,
    async (ctx, values) =>
      (await published(values.id)) ? findQuoteAuthorization(ctx, quotes, values) : null,
  );
}

/** The article id in one of our object URLs (`paths.object(id)`), if `url` is one. */
export function articleIdOf(origin: URL, url: URL): string | undefined {
  if (url.origin !== origin.origin || url.search !== "" || url.hash !== "") return undefined;
  const prefix = paths.object("");
  if (!url.pathname.startsWith(prefix)) return undefined;
  const rest = url.pathname.slice(prefix.length);
  if (rest === "" || rest.includes("/")) return undefined;
  try {
    return decodeURIComponent(rest);
  } catch {
    return undefined;
  }
}

export { accountActor, resolveProfile } from "./actors.ts";
export type { ObjectContext, PostType };
