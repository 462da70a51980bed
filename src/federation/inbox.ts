/**
 * What the account does with received activities: it accepts every follow, forgets
 * unfollows and deleted actors, keeps replies, likes and boosts (`interactions/inbox.ts`) until
 * their authors take them back, and ignores everything else.
 */
import {
  FetchError,
  type InboxContext,
  type InboxListenerSetters,
  type KvStore,
  type RequestContext,
  type UnverifiedActivityReason,
  validatePublicUrl,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Announce,
  Create,
  Delete,
  Follow,
  isActor,
  Like,
  QuoteRequest,
  Reject,
  Undo,
  Update,
} from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import type { QuotePolicy } from "../interactions.ts";
import { everyAccount, type FollowerStore } from "./followers.ts";
import { idempotencyKey } from "./interactions/idempotency.ts";
import {
  forget,
  type InteractionDeps,
  onAnnounced,
  onCreated,
  onLiked,
  onUpdated,
} from "./interactions/inbox.ts";
import { ownsIds } from "./interactions/ownership.ts";
import { onQuoteRequested } from "./interactions/quotes.ts";
import type { InteractionStore } from "./interactions/store.ts";
import { onRelayAccepted, onRelayRejected } from "./relays.ts";

const logger = getLogger(["herald", "federation", "inbox"]);

export interface InboxDeps {
  readonly followers: FollowerStore;
  /** The account's actor identifier. */
  readonly identifier: string;
  /** The section accounts' followers (`SECTIONS`), by section id: follows of them are accepted too. */
  readonly sections?: ReadonlyMap<string, FollowerStore>;
  /** When false, followers whose inboxes are private or loopback addresses are refused. */
  readonly allowPrivateAddress: boolean;
  readonly now?: () => Date;
  /** Where replies, likes and boosts go; without it, `Undo` and `Delete` concern follows only. */
  readonly interactions?: InteractionDeps;
}

export interface InboxWiring extends Omit<InboxDeps, "interactions"> {
  readonly kv: KvStore;
  /** Where replies, likes and boosts are kept; without it they are ignored. */
  readonly interactions?: InteractionStore;
  /** The id of the published article whose ActivityPub object `url` is, if it is one. */
  readonly articleOf: (url: URL) => Promise<string | undefined>;
  /** `QUOTE_POLICY`: how a `QuoteRequest` is answered; default `public`. */
  readonly quotePolicy?: QuotePolicy;
}

/** Registers a listener for every activity the account understands, on both inboxes. */
export function registerInbox(inbox: InboxListenerSetters<void>, wiring: InboxWiring): void {
  const { kv, articleOf, interactions: store, quotePolicy, ...rest } = wiring;
  const interactions: InteractionDeps | undefined = store && { store, articleOf };
  const deps: InboxDeps = { ...rest, ...(interactions ? { interactions } : {}) };
  const relayDeps = { kv, followers: wiring.followers };
  inbox
    .on(Follow, onFollowed(deps))
    .on(Undo, onUnfollowed(deps))
    .on(Delete, onDeleted(deps))
    .on(Create, interactions ? onCreated(interactions) : onOtherActivity)
    .on(Update, interactions ? onUpdated(interactions) : onOtherActivity)
    .on(Like, interactions ? onLiked(interactions) : onOtherActivity)
    .on(Announce, interactions ? onAnnounced(interactions) : onOtherActivity)
    .on(QuoteRequest, interactions ? onQuoteRequested(quoteDeps(wiring)) : onOtherActivity)
    // Answers to the account's own follows, which only relays get (`relays.ts`).
    .on(Accept, onRelayAccepted(relayDeps))
    .on(Reject, onRelayRejected(relayDeps))
    .on(Activity, onOtherActivity)
    .onUnverifiedActivity(onUnverifiedActivity(deps))
    .onError((_ctx, error) => logger.error("Inbox activity failed: {error}", { error }))
    .setSharedKeyDispatcher(() => ({ identifier: wiring.identifier }))
    // Per sender: one actor's activity never makes another's look like a repeat.
    .withIdempotency(idempotencyKey);
}

function quoteDeps(wiring: InboxWiring) {
  const { interactions: store, articleOf, followers, identifier } = wiring;
  if (store === undefined) throw new Error("Quotes need the interaction store.");
  return { store, articleOf, followers, identifier, policy: wiring.quotePolicy ?? "public" };
}

/** `Follow` of the account or a section: accept automatically (a signed `Accept`) and remember where to deliver. */
export function onFollowed(deps: InboxDeps) {
  return async (ctx: InboxContext<void>, follow: Follow): Promise<void> => {
    const account = followedAccount(ctx, follow.objectId, deps);
    if (account === undefined) return;
    const actorUri = ctx.getActorUri(account.identifier);
    if (follow.id == null || follow.actorId == null || !ownsIds(follow)) return;
    const follower = await follow.getActor({
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
      suppressError: true,
    });
    if (follower == null || !isActor(follower) || follower.id == null) return;
    if (follower.id.href !== follow.actorId.href || follower.inboxId == null) return;
    const sharedInbox = follower.endpoints?.sharedInbox ?? undefined;
    if (!(await areDeliverable([follower.inboxId, sharedInbox], deps.allowPrivateAddress))) {
      logger.warn("Refused follower {actor}: its inbox is not a public address.", {
        actor: follower.id.href,
      });
      return;
    }
    await account.followers.add({
      id: follower.id,
      inbox: follower.inboxId,
      ...(sharedInbox == null ? {} : { sharedInbox }),
      followId: follow.id,
      createdAt: (deps.now ?? (() => new Date()))(),
    });
    await ctx.sendActivity(
      { identifier: account.identifier },
      follower,
      new Accept({
        // Derived from the follow, so a redelivered Follow yields the same Accept.
        id: new URL(`#accepts/${encodeURIComponent(follow.id.href)}`, actorUri),
        actor: actorUri,
        to: follower.id,
        object: follow,
      }),
    );
    if (account.identifier === deps.identifier) {
      logger.info("{actor} follows the account.", { actor: follower.id.href });
    } else {
      logger.info("{actor} follows section {section}.", {
        actor: follower.id.href,
        section: account.identifier,
      });
    }
  };
}

/** The account (the main one, or a section) whose actor `id` is; undefined for any other. */
function followedAccount(
  ctx: InboxContext<void>,
  id: URL | null,
  deps: InboxDeps,
): { readonly identifier: string; readonly followers: FollowerStore } | undefined {
  if (id == null) return undefined;
  const accounts: [string, FollowerStore][] = [
    [deps.identifier, deps.followers],
    ...(deps.sections ?? new Map()),
  ];
  const found = accounts.find(([identifier]) => ctx.getActorUri(identifier).href === id.href);
  return found && { identifier: found[0], followers: found[1] };
}

/** The followers of every account: an actor that is gone leaves all of them. */
function allAccounts(deps: InboxDeps): FollowerStore {
  return everyAccount([deps.followers, ...(deps.sections?.values() ?? [])]);
}

/** `Undo(Follow)`: the follower leaves. `Undo(Like)`, `Undo(Announce)`: taken back. */
export function onUnfollowed(deps: InboxDeps) {
  return async (ctx: InboxContext<void>, undo: Undo): Promise<void> => {
    const actorId = undo.actorId;
    if (actorId == null || !ownsIds(undo)) return;
    // A like or boost is found by its id, whether the Undo embeds it or only names it.
    if (
      deps.interactions &&
      undo.objectId &&
      (await forget(deps.interactions, undo.objectId, actorId))
    ) {
      return;
    }
    const object = await undo.getObject({
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
      suppressError: true,
    });
    if (object == null) {
      // A bare, undereferenceable follow id: only its own follower may undo it.
      if (undo.objectId != null) await allAccounts(deps).removeByFollow(undo.objectId, actorId);
      return;
    }
    if (!(object instanceof Follow)) return;
    const account = followedAccount(ctx, object.objectId, deps);
    if (account === undefined || object.actorId?.href !== actorId.href) return;
    if (await account.followers.removeByActor(actorId)) {
      logger.info("{actor} unfollowed {account}.", {
        actor: actorId.href,
        account:
          account.identifier === deps.identifier ? "the account" : `section ${account.identifier}`,
      });
    }
  };
}

/**
 * `Delete` of an actor by itself: the account is gone, and so are the follower and its
 * replies, likes and boosts. `Delete` of a reply: it goes from the article's page.
 */
export function onDeleted(deps: InboxDeps) {
  return async (_ctx: InboxContext<void>, deletion: Delete): Promise<void> => {
    const actorId = deletion.actorId;
    const objectId = deletion.objectId;
    if (actorId == null || objectId == null || !ownsIds(deletion)) return;
    // What an actor deletes is its own: itself, or a note of its server.
    if (objectId.origin !== actorId.origin) return;
    if (objectId.href !== actorId.href) {
      if (deps.interactions) await forget(deps.interactions, objectId, actorId);
      return;
    }
    if (await allAccounts(deps).removeByActor(actorId)) {
      logger.info("Removed follower {actor}: the account was deleted.", { actor: actorId.href });
    }
    const removed = (await deps.interactions?.store.removeActor(actorId.href)) ?? 0;
    if (removed > 0) {
      logger.info("Removed {count} replies, likes and boosts of deleted account {actor}.", {
        count: removed,
        actor: actorId.href,
      });
    }
  };
}

/** Any other activity (replies, likes, boosts): nothing to do. */
export function onOtherActivity(_ctx: InboxContext<void>, activity: Activity): void {
  logger.debug("Ignored a {type} activity.", { type: activity.constructor.name });
}

/**
 * A deleted account's `Delete` cannot be verified: its key is gone (410). Mastodon keeps
 * retrying until it gets a 2xx, so answer 202, and drop the follower once its actor
 * document itself answers 410.
 */
export function onUnverifiedActivity(deps: InboxDeps) {
  return async (
    ctx: RequestContext<void>,
    activity: Activity,
    reason: UnverifiedActivityReason,
  ): Promise<Response | undefined> => {
    if (!(activity instanceof Delete)) return undefined;
    if (reason.type !== "keyFetchError" || !("status" in reason.result)) return undefined;
    if (reason.result.status !== 410) return undefined;
    const actorId = activity.actorId;
    if (actorId != null && activity.objectId?.href === actorId.href) {
      if (await isGone(ctx, actorId)) {
        await allAccounts(deps).removeByActor(actorId);
        await deps.interactions?.store.removeActor(actorId.href);
      }
    }
    return new Response(null, { status: 202 });
  };
}

async function isGone(ctx: RequestContext<void>, actorId: URL): Promise<boolean> {
  try {
    await ctx.documentLoader(actorId.href);
    return false;
  } catch (error) {
    return error instanceof FetchError && error.response?.status === 410;
  }
}

async function areDeliverable(
  inboxes: readonly (URL | undefined)[],
  allowPrivateAddress: boolean,
): Promise<boolean> {
  if (allowPrivateAddress) return true;
  try {
    for (const inbox of inboxes) if (inbox != null) await validatePublicUrl(inbox.href);
    return true;
  } catch {
    return false;
  }
}
