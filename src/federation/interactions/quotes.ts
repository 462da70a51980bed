/**
 * Quote posts of the stories (FEP-044f, as Mastodon 4.5 does them; issue #18.2). A server
 * whose user quotes a story sends a `QuoteRequest` (`object`: our post, `instrument`: the
 * quoting post); Herald answers at once by `QUOTE_POLICY`: an `Accept` whose `result` is a
 * `QuoteAuthorization` (the "stamp") that Herald serves at its own URL, or a `Reject`.
 *
 * An authorized quote is kept in the interaction store (kind `quote`, under the quoting post's
 * id, so a `Delete` of that post takes it back) and counted like a boost. Its stamp is served
 * while both the story and the quote are: a story taken down answers 404 there, and the
 * quoting servers are sent a `Delete` of each stamp (`revokeQuotes()`), which is how
 * Mastodon learns that a quote is no longer authorized.
 */
import { createHash } from "node:crypto";
import type { Context, InboxContext } from "@fedify/fedify";
import { Accept, Delete, QuoteAuthorization, type QuoteRequest, Reject } from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import type { InteractionReader, QuotePolicy } from "../../interactions.ts";
import { absolute, paths } from "../../urls.ts";
import type { FollowerStore } from "../followers.ts";
import { actorOf, linkOf, loaders } from "./inbox.ts";
import { ownsIds } from "./ownership.ts";
import type { AddOutcome, Interaction, InteractionStore } from "./store.ts";

const logger = getLogger(["herald", "federation", "quotes"]);

/** Where a stamp is served: under the story's object, one per quoting post. */
export const quoteAuthorizationPath = "/objects/{id}/quotes/{quote}";

export interface QuoteDeps {
  readonly store: InteractionStore;
  /** The id of the published article whose ActivityPub object `url` is, if it is one. */
  readonly articleOf: (url: URL) => Promise<string | undefined>;
  readonly followers: FollowerStore;
  /** The account's actor identifier. */
  readonly identifier: string;
  /** `QUOTE_POLICY`. */
  readonly policy: QuotePolicy;
  readonly now?: () => Date;
}

/** The key of a quoting post in its stamp's URL: short, and the same for every redelivery. */
export function quoteKey(quotePostId: string): string {
  return createHash("sha256").update(quotePostId).digest("base64url").slice(0, 22);
}

/** The URL of the stamp of the quote `quotePostId` of article `articleId`. */
export function quoteAuthorizationId(
  ctx: Context<void>,
  articleId: string,
  quotePostId: string,
): URL {
  return ctx.getObjectUri(QuoteAuthorization, { id: articleId, quote: quoteKey(quotePostId) });
}

/**
 * The stamp of an authorized quote, as Mastodon checks it: `attributedTo` the account,
 * `interactionTarget` our post, `interactingObject` the quoting post.
 */
export function toQuoteAuthorization(
  ctx: Context<void>,
  identifier: string,
  articleId: string,
  quotePostId: string,
): QuoteAuthorization {
  return new QuoteAuthorization({
    id: quoteAuthorizationId(ctx, articleId, quotePostId),
    attribution: ctx.getActorUri(identifier),
    interactingObject: new URL(quotePostId),
    // Our post's id, as `objects.ts` `objectId()` makes it.
    interactionTarget: absolute(new URL(ctx.canonicalOrigin), paths.object(articleId)),
  });
}

/** The stamp at `{ id, quote }`, while the article (published) keeps that quote; else null. */
export async function findQuoteAuthorization(
  ctx: Context<void>,
  deps: { readonly store: InteractionReader; readonly identifier: string },
  values: { readonly id: string; readonly quote: string },
): Promise<QuoteAuthorization | null> {
  const quotes = (await deps.store.list(values.id)).filter((i) => i.kind === "quote");
  const quote = quotes.find((i) => quoteKey(i.id) === values.quote);
  return quote === undefined
    ? null
    : toQuoteAuthorization(ctx, deps.identifier, values.id, quote.id);
}

/** `QuoteRequest` of one of our stories: `Accept` with a stamp, or `Reject`, by the policy. */
export function onQuoteRequested(deps: QuoteDeps) {
  return async (ctx: InboxContext<void>, request: QuoteRequest): Promise<void> => {
    if (!ownsIds(request)) return;
    const { id, actorId, objectId, instrumentId } = request;
    if (id == null || actorId == null || objectId == null || instrumentId == null) return;
    const articleId = await deps.articleOf(objectId);
    if (articleId === undefined) return;
    // The quoting post is the requester's own, from its own server.
    if (instrumentId.origin !== actorId.origin) return;
    const author = await actorOf(ctx, request);
    if (author?.inbox === undefined) return;
    const instrument = await request.getInstrument(loaders(ctx));
    if (instrument?.attributionId != null && instrument.attributionId.href !== actorId.href) return;
    const recipient = { id: actorId, inboxId: author.inbox };
    const refusal = await refusalOf(deps, actorId);
    const quote: Interaction = {
      kind: "quote",
      id: instrumentId.href,
      actor: author.actor,
      ...(instrument == null ? {} : withUrl(linkOf(instrument.url))),
      published: (deps.now?.() ?? new Date()).toISOString(),
      inbox: author.inbox.href,
    };
    const outcome = refusal ?? (await deps.store.add(articleId, quote));
    const me = ctx.getActorUri(deps.identifier);
    if (outcome !== "stored") {
      logger.info("Refused a quote of article {article} by {actor}: {reason}.", {
        article: articleId,
        actor: actorId.href,
        reason: reasons[outcome],
      });
      const reject = new Reject({
        id: answerId(me, "rejects", id),
        actor: me,
        to: actorId,
        object: request,
      });
      return await ctx.sendActivity({ identifier: deps.identifier }, recipient, reject);
    }
    const accept = new Accept({
      // Derived from the request, so a redelivered QuoteRequest yields the same Accept and stamp.
      id: answerId(me, "accepts", id),
      actor: me,
      to: actorId,
      object: request,
      result: quoteAuthorizationId(ctx, articleId, instrumentId.href),
    });
    await ctx.sendActivity({ identifier: deps.identifier }, recipient, accept);
    logger.info("{actor} quoted article {article}.", { actor: actorId.href, article: articleId });
  };
}

type Refusal = "policy-followers" | "policy-nobody";

/** Why `QUOTE_POLICY` refuses `actorId`'s quote, if it does. */
async function refusalOf(deps: QuoteDeps, actorId: URL): Promise<Refusal | undefined> {
  switch (deps.policy) {
    case "public":
      return undefined;
    case "followers":
      return (await deps.followers.get(actorId)) === undefined ? "policy-followers" : undefined;
    case "nobody":
      return "policy-nobody";
    default:
      return deps.policy satisfies never;
  }
}

const reasons: Record<Exclude<AddOutcome, "stored"> | Refusal, string> = {
  "policy-followers": "QUOTE_POLICY=followers, and it does not follow the account",
  "policy-nobody": "QUOTE_POLICY=nobody",
  held: "held",
  "replies-off": "replies are off",
  hidden: "it is in HIDE_REACTIONS_FROM",
  taken: "the quoting post's id is someone else's",
  "article-full": "the article keeps no more interactions",
  "actor-limit": "it has as many on the article as one may",
  "server-limit": "its server sent as many today as one may",
};

function answerId(actorId: URL, kind: "accepts" | "rejects", requestId: URL): URL {
  return new URL(`#quote-${kind}/${encodeURIComponent(requestId.href)}`, actorId);
}

function withUrl(url: string | undefined): { url?: string } {
  return url === undefined ? {} : { url };
}

/**
 * Revokes the stamps of a story taken down: a `Delete` of each to its quoting actor's inbox.
 * The stamps themselves already answer 404 (the story is no longer published).
 */
export async function revokeQuotes(
  ctx: Context<void>,
  deps: { readonly store: InteractionReader; readonly identifier: string },
  articleId: string,
): Promise<number> {
  const quotes = (await deps.store.list(articleId)).filter((i) => i.kind === "quote");
  const me = ctx.getActorUri(deps.identifier);
  for (const quote of quotes) {
    const inbox = URL.parse(quote.inbox ?? "");
    if (inbox === null) continue;
    const stamp = quoteAuthorizationId(ctx, articleId, quote.id);
    const actor = new URL(quote.actor.id);
    await ctx.sendActivity(
      { identifier: deps.identifier },
      { id: actor, inboxId: inbox },
      new Delete({ id: new URL(`${stamp.href}#delete`), actor: me, to: actor, object: stamp }),
    );
  }
  if (quotes.length > 0) {
    logger.info("Revoked {count} quote authorizations of article {article}.", {
      count: quotes.length,
      article: articleId,
    });
  }
  return quotes.length;
}
