/**
 * ActivityPub relays (`RELAYS`): subscribing on start, the relay's `Accept` or `Reject`,
 * unsubscribing from relays taken out of the list, and where public posts go besides the
 * followers. See FEP-ae0c (https://codeberg.org/fediverse/fep/src/branch/main/fep/ae0c/fep-ae0c.md)
 * for the two protocols:
 * - Mastodon style (pub-relay, activity-relay, aoderelay, Fedify's relay): a `Follow` of the
 *   Public collection to the relay's inbox; once accepted, public activities are posted to
 *   that inbox.
 * - LitePub style (Pleroma and Akkoma relays): a `Follow` of the relay actor; the relay follows
 *   back (the account accepts every follow), and gets the posts as a follower.
 *
 * What each relay answered is kept in Fedify's key–value store (`relay-store.ts`), so it
 * outlives restarts and is shared by every process of one instance.
 */
import type { Context, InboxContext, KvStore } from "@fedify/fedify";
import {
  type Accept,
  Application,
  Follow,
  isActor,
  PUBLIC_COLLECTION,
  type Recipient,
  type Reject,
  TentativeAccept,
  TentativeReject,
  Undo,
} from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import type { RelayConfig, RelayStyle } from "../config.ts";
import type { FollowerStore } from "./followers.ts";
import {
  deleteRelay,
  getRelay,
  listRelays,
  type RelayState,
  type RelaySubscription,
  saveRelay,
} from "./relay-store.ts";

export {
  getRelay,
  listRelays,
  RELAYS_KEY,
  type RelayState,
  type RelaySubscription,
  saveRelay,
} from "./relay-store.ts";

const logger = getLogger(["herald", "federation", "relays"]);

/** What reading, answering and sending to relays needs. */
export interface RelayStoreDeps {
  readonly kv: KvStore;
  readonly followers: FollowerStore;
  readonly now?: () => Date;
}

/** What subscribing needs besides: the account that subscribes. */
export interface RelaySyncDeps extends RelayStoreDeps {
  /** The account's actor identifier. */
  readonly identifier: string;
  /** Stops subscribing (at shutdown), even while waiting for a relay's actor document. */
  readonly signal?: AbortSignal;
}

/**
 * Brings the subscriptions in line with `RELAYS`, on start and then hourly (`delivery/worker.ts`, in a
 * process that delivers): each configured relay not yet accepted is sent a `Follow` (the same
 * one again while pending), and each relay no longer configured an `Undo` of it, then
 * forgotten. The `Follow` itself goes through the delivery queue and its retries.
 */
export async function syncRelays(
  ctx: Context<void>,
  deps: RelaySyncDeps,
  configured: readonly RelayConfig[],
): Promise<void> {
  const wanted = new Set(configured.map((relay) => relay.url.href));
  for (const subscription of await listRelays(deps.kv)) {
    if (!wanted.has(subscription.url.href)) await unsubscribe(ctx, deps, subscription);
  }
  for (const relay of configured) {
    if (deps.signal?.aborted) return;
    try {
      await subscribe(ctx, deps, relay);
    } catch (error) {
      logger.warn("Could not subscribe to relay {url}: {error}", { url: relay.url.href, error });
    }
  }
}

async function subscribe(ctx: Context<void>, deps: RelaySyncDeps, relay: RelayConfig) {
  const url = relay.url.href;
  const known = await getRelay(deps.kv, relay.url);
  const sameStyle = known != null && (relay.style == null || relay.style === known.style);
  if (known?.state === "accepted" && sameStyle) {
    logger.debug("Relay {url} relays our posts already.", { url });
    return;
  }
  if (known?.state === "rejected" && sameStyle) {
    logger.warn(
      "Relay {url} rejected the subscription; not asking again. Take it out of RELAYS for one start, then add it back, to ask again.",
      { url },
    );
    return;
  }
  const found = await resolveRelay(ctx, deps, relay);
  if (deps.signal?.aborted) return;
  if (typeof found === "string") {
    logger.warn("Could not subscribe to relay {url}: {reason}; trying again within the hour.", {
      url,
      reason: found,
    });
    return;
  }
  // A relay switched to another style: the old subscription ends, a new Follow begins.
  if (known != null && known.style !== found.style && known.state !== "rejected") {
    await sendUndo(ctx, deps.identifier, known);
  }
  const subscription: RelaySubscription = {
    url: relay.url,
    style: found.style,
    state: "pending",
    followId:
      known?.state === "pending" && known.style === found.style
        ? known.followId
        : new URL(`#relay-follows/${crypto.randomUUID()}`, ctx.getActorUri(deps.identifier)),
    inbox: found.inbox,
    ...(found.actor == null ? {} : { actor: found.actor }),
    since: known?.state === "pending" ? known.since : nowOf(deps),
  };
  await saveRelay(deps.kv, subscription);
  await ctx.sendActivity(
    { identifier: deps.identifier },
    recipientOf(subscription),
    toRelayFollow(ctx.getActorUri(deps.identifier), subscription),
  );
  logger.info("Asked relay {url} ({style} style) to relay our posts; waiting for its answer.", {
    url,
    style: found.style,
  });
}

async function unsubscribe(
  ctx: Context<void>,
  deps: RelaySyncDeps,
  subscription: RelaySubscription,
) {
  if (subscription.state !== "rejected") await sendUndo(ctx, deps.identifier, subscription);
  // A LitePub relay follows back to get the posts; it gets none once it is off the list.
  if (subscription.style === "litepub" && subscription.actor != null) {
    await deps.followers.removeByActor(subscription.actor);
  }
  await deleteRelay(deps.kv, subscription.url);
  logger.info("Unsubscribed from relay {url}: it is no longer in RELAYS.", {
    url: subscription.url.href,
  });
}

async function sendUndo(ctx: Context<void>, identifier: string, subscription: RelaySubscription) {
  const actor = ctx.getActorUri(identifier);
  await ctx.sendActivity(
    { identifier },
    recipientOf(subscription),
    new Undo({
      id: new URL(`${subscription.followId.href}/undo`),
      actor,
      object: toRelayFollow(actor, subscription),
      ...(subscription.actor == null ? {} : { to: subscription.actor }),
    }),
  );
}

interface FoundRelay {
  readonly style: RelayStyle;
  readonly inbox: URL;
  readonly actor?: URL;
}

/**
 * The relay's actor document, fetched (signed, for relays that want that) through Fedify's
 * document loader, which keeps to public addresses unless `ALLOW_PRIVATE_ADDRESS`. Mastodon's
 * admin page asks for a relay's inbox URL, so a URL ending in `/inbox` that is no actor is
 * taken as a Mastodon-style relay's inbox. Returns why not when it is neither.
 */
async function resolveRelay(
  ctx: Context<void>,
  deps: RelaySyncDeps,
  relay: RelayConfig,
): Promise<FoundRelay | string> {
  const documentLoader = await ctx.getDocumentLoader({ identifier: deps.identifier });
  const object = await ctx
    .lookupObject(relay.url, {
      documentLoader,
      ...(deps.signal == null ? {} : { signal: deps.signal }),
    })
    .catch(() => null);
  if (object != null && isActor(object) && object.id != null && object.inboxId != null) {
    return { style: relay.style ?? styleOf(object), inbox: object.inboxId, actor: object.id };
  }
  if (relay.style !== "litepub" && /\/inbox\/?$/.test(relay.url.pathname)) {
    return { style: "mastodon", inbox: relay.url };
  }
  return object == null
    ? "its actor document could not be fetched"
    : "it is not an actor with an inbox";
}

/**
 * Mastodon style unless the actor looks like a Pleroma or Akkoma relay: an `Application` at
 * `…/relay` (FEP-ae0c). Relays say nothing of the protocols they speak, and most
 * (activity-relay, aoderelay, Fedify's) take both; a `litepub:` prefix in `RELAYS` decides
 * for the others.
 */
export function styleOf(actor: { readonly id: URL | null }): RelayStyle {
  return actor instanceof Application && actor.id != null && /\/relay\/?$/.test(actor.id.pathname)
    ? "litepub"
    : "mastodon";
}

/** Our `Follow`: of the Public collection (Mastodon style) or of the relay actor (LitePub). */
export function toRelayFollow(actor: URL, subscription: RelaySubscription): Follow {
  if (subscription.style === "mastodon") {
    return new Follow({ id: subscription.followId, actor, object: PUBLIC_COLLECTION });
  }
  if (subscription.actor == null) throw new TypeError("A LitePub relay needs an actor.");
  return new Follow({
    id: subscription.followId,
    actor,
    object: subscription.actor,
    to: subscription.actor,
  });
}

/** Fedify skips a recipient without an id; while the actor is unknown, the inbox stands in. */
function recipientOf(subscription: RelaySubscription): Recipient {
  return { id: subscription.actor ?? subscription.inbox, inboxId: subscription.inbox };
}

/** `Accept` of one of our relay follows: the relay relays our posts from now on. */
export function onRelayAccepted(deps: RelayStoreDeps) {
  return onRelayAnswer(deps, "accepted");
}

/** `Reject` of one of our relay follows: nothing goes to that relay. */
export function onRelayRejected(deps: RelayStoreDeps) {
  return onRelayAnswer(deps, "rejected");
}

function onRelayAnswer(deps: RelayStoreDeps, state: "accepted" | "rejected") {
  return async (_ctx: InboxContext<void>, answer: Accept | Reject): Promise<void> => {
    if (answer instanceof TentativeAccept || answer instanceof TentativeReject) return;
    const subscription = await relayAnswered(deps.kv, answer);
    if (subscription == null) {
      logger.debug("Ignored an {type} that answers none of our relay follows.", {
        type: state === "accepted" ? "Accept" : "Reject",
      });
      return;
    }
    if (subscription.state === state) return;
    await saveRelay(deps.kv, answered(subscription, state, answer, deps));
    const url = subscription.url.href;
    if (state === "accepted") logger.info("Relay {url} accepted the subscription.", { url });
    else logger.warn("Relay {url} rejected the subscription: it gets no posts.", { url });
  };
}

function answered(
  subscription: RelaySubscription,
  state: RelayState,
  answer: Accept | Reject,
  deps: RelayStoreDeps,
): RelaySubscription {
  const actor = subscription.actor ?? answer.actorId ?? undefined;
  return { ...subscription, state, since: nowOf(deps), ...(actor == null ? {} : { actor }) };
}

/**
 * The subscription an `Accept` or `Reject` answers: the one whose `Follow` it names (by id,
 * or embedded), sent by that relay's actor, or on that relay's server while its actor is
 * unknown; else the one subscribed to the sending actor, for relays that answer with a
 * `Follow` of their own making. Fedify has checked that the signer is the `actor`.
 */
async function relayAnswered(
  kv: KvStore,
  answer: Accept | Reject,
): Promise<RelaySubscription | undefined> {
  const actorId = answer.actorId;
  if (actorId == null) return undefined;
  const subscriptions = await listRelays(kv);
  const followId = answer.objectId?.href;
  const byFollow = subscriptions.find((s) => s.followId.href === followId);
  if (byFollow != null) {
    const fromRelay =
      byFollow.actor == null
        ? byFollow.inbox.origin === actorId.origin
        : byFollow.actor.href === actorId.href;
    return fromRelay ? byFollow : undefined;
  }
  return subscriptions.find((s) => s.actor?.href === actorId.href);
}

/**
 * Where public posts go besides the followers: the inbox of every accepted relay still in
 * `RELAYS`, once each, except relays that follow the account (LitePub style), which get
 * them as followers already.
 */
export async function relayRecipients(
  deps: RelayStoreDeps,
  configured: readonly RelayConfig[],
): Promise<Recipient[]> {
  const recipients = new Map<string, Recipient>();
  // One read per configured relay, not a listing: Redis lists by scanning every key.
  for (const relay of configured) {
    const subscription = await getRelay(deps.kv, relay.url);
    if (subscription?.state !== "accepted") continue;
    if (subscription.actor != null && (await deps.followers.get(subscription.actor)) != null) {
      continue;
    }
    recipients.set(subscription.inbox.href, recipientOf(subscription));
  }
  return [...recipients.values()];
}

/** One line per configured relay, for the start-up output and the doctor. */
export async function describeRelays(
  kv: KvStore,
  configured: readonly RelayConfig[],
): Promise<{ readonly url: URL; readonly state: RelayState | "new"; readonly text: string }[]> {
  const lines = [];
  for (const relay of configured) {
    const known = await getRelay(kv, relay.url);
    const style = known?.style ?? relay.style;
    const text =
      known == null
        ? `not subscribed yet${style == null ? "" : ` (${style} style)`}`
        : `${known.state} since ${known.since.toISOString()} (${known.style} style)`;
    lines.push({ url: relay.url, state: known?.state ?? ("new" as const), text });
  }
  return lines;
}

const nowOf = (deps: RelayStoreDeps) => (deps.now ?? (() => new Date()))();
