/**
 * Replies, likes and boosts of the articles, as they arrive in the inbox: each is checked
 * (it is about one of our published articles, it is public, its author is who sent it) and
 * kept, sanitised, in the interaction store; the web page and the JSON Feed show them.
 */
import type { InboxContext } from "@fedify/fedify";
import {
  type Activity,
  type Announce,
  Article as ArticleObject,
  type Create,
  isActor,
  type Like,
  Note,
  type Object as ObjectType,
  PUBLIC_COLLECTION,
  type Update,
} from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import { sanitizeRemoteHtml } from "../source/sanitize.ts";
import type { Interaction, InteractionActor, InteractionStore } from "./interactions.ts";

const logger = getLogger(["herald", "federation", "reactions"]);

/** A reply longer than this (sanitised HTML) is not shown: no server sends such notes. */
const MAX_REPLY_HTML = 20_000;

export interface ReactionDeps {
  readonly interactions: InteractionStore;
  /** The id of the published article whose ActivityPub object `url` is, if it is one. */
  readonly articleOf: (url: URL) => Promise<string | undefined>;
  readonly now?: () => Date;
}

/** `Create` of a note replying to an article: a reply, shown on its page. */
export function onCreated(deps: ReactionDeps) {
  return async (ctx: InboxContext<void>, create: Create): Promise<void> => {
    await keepReply(ctx, deps, create, false);
  };
}

/** `Update` of a reply we keep: its new text replaces the old. */
export function onUpdated(deps: ReactionDeps) {
  return async (ctx: InboxContext<void>, update: Update): Promise<void> => {
    await keepReply(ctx, deps, update, true);
  };
}

/** `Like` of an article. */
export function onLiked(deps: ReactionDeps) {
  return async (ctx: InboxContext<void>, like: Like): Promise<void> => {
    await keepReaction(ctx, deps, like, "like");
  };
}

/** `Announce` (boost) of an article. */
export function onAnnounced(deps: ReactionDeps) {
  return async (ctx: InboxContext<void>, announce: Announce): Promise<void> => {
    if (!isPublic(announce)) return;
    await keepReaction(ctx, deps, announce, "boost");
  };
}

/** `Undo` of a like or boost, or `Delete` of a reply: true when something was removed. */
export async function forget(deps: ReactionDeps, id: URL, actorId: URL): Promise<boolean> {
  const removed = await deps.interactions.remove(id.href, actorId.href);
  if (removed) logger.info("{actor} took back {id}.", { actor: actorId.href, id: id.href });
  return removed;
}

async function keepReply(
  ctx: InboxContext<void>,
  deps: ReactionDeps,
  activity: Create | Update,
  edit: boolean,
): Promise<void> {
  const note = await activity.getObject(loaders(ctx));
  if (!(note instanceof Note || note instanceof ArticleObject)) return;
  const target = note.replyTargetId;
  if (note.id == null || target == null || activity.actorId == null) return;
  const articleId = await deps.articleOf(target);
  if (articleId === undefined) return;
  // Only the author's own server speaks for the note, and only public replies are shown.
  if (note.attributionId?.href !== activity.actorId.href) return;
  if (note.id.origin !== activity.actorId.origin || !isPublic(note)) return;
  if (edit && (await deps.interactions.list(articleId)).every((i) => i.id !== note.id?.href)) {
    return;
  }
  const contentHtml = sanitizeRemoteHtml(String(note.content ?? ""));
  if (contentHtml === "" || contentHtml.length > MAX_REPLY_HTML) return;
  const actor = await actorOf(ctx, activity);
  if (actor === undefined) return;
  const url = linkOf(note.url);
  const stored = await deps.interactions.add(articleId, {
    kind: "reply",
    id: note.id.href,
    actor,
    ...(url === undefined ? {} : { url }),
    contentHtml,
    published: receivedAt(deps, note.published).toISOString(),
  });
  if (!stored) return notKept(articleId);
  logger.info("{actor} replied to article {article}.", { actor: actor.id, article: articleId });
}

async function keepReaction(
  ctx: InboxContext<void>,
  deps: ReactionDeps,
  activity: Like | Announce,
  kind: "like" | "boost",
): Promise<void> {
  const target = activity.objectId;
  if (activity.id == null || target == null || activity.actorId == null) return;
  const articleId = await deps.articleOf(target);
  if (articleId === undefined) return;
  const actor = await actorOf(ctx, activity);
  if (actor === undefined) return;
  const interaction: Interaction = {
    kind,
    id: activity.id.href,
    actor,
    published: (deps.now?.() ?? new Date()).toISOString(),
  };
  if (!(await deps.interactions.add(articleId, interaction))) return notKept(articleId);
  logger.info("{actor} {did} article {article}.", {
    actor: actor.id,
    did: kind === "like" ? "liked" : "boosted",
    article: articleId,
  });
}

/**
 * When a note says it was written, but never after it arrived: a date in the future (the year
 * 275760, say) would sort first and be shown as such. Without a date, when it arrived.
 */
function receivedAt(deps: ReactionDeps, published: Note["published"]): Date {
  const now = deps.now?.() ?? new Date();
  return published == null || published.epochMilliseconds > now.getTime()
    ? now
    : new Date(published.epochMilliseconds);
}

/** Why `add()` kept nothing: the author is in HIDE_REACTIONS_FROM, or the article is full. */
function notKept(articleId: string): void {
  logger.info("Not kept for article {article}: a hidden account, or as many as it keeps.", {
    article: articleId,
  });
}

/** The sender, as shown beside its reply: name, `@user@host`, profile link. */
async function actorOf(
  ctx: InboxContext<void>,
  activity: Activity,
): Promise<InteractionActor | undefined> {
  const actor = await activity.getActor(loaders(ctx));
  if (actor == null || !isActor(actor) || actor.id?.href !== activity.actorId?.href) return;
  if (actor.id == null) return;
  const name = actor.name?.toString().trim();
  const username = actor.preferredUsername?.toString().trim();
  const url = linkOf(actor.url) ?? actor.id.href;
  return {
    id: actor.id.href,
    ...(name ? { name: name.slice(0, 200) } : {}),
    ...(username ? { handle: `@${username}@${actor.id.host}` } : {}),
    url,
  };
}

function isPublic(object: ObjectType | Activity): boolean {
  return [...object.toIds, ...object.ccIds].some((id) => id.href === PUBLIC_COLLECTION.href);
}

/** An http(s) link to show, from a `url` that may be a URL or a `Link`. */
function linkOf(url: ObjectType["url"]): string | undefined {
  const href = url instanceof URL ? url : url?.href;
  return href != null && (href.protocol === "https:" || href.protocol === "http:")
    ? href.href
    : undefined;
}

function loaders(ctx: InboxContext<void>) {
  return {
    documentLoader: ctx.documentLoader,
    contextLoader: ctx.contextLoader,
    suppressError: true,
  } as const;
}
