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
  Mention,
  Note,
  type Object as ObjectType,
  PUBLIC_COLLECTION,
  type Update,
} from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import { sanitizeRemoteHtml } from "../../source/sanitize.ts";
import { ownsIds } from "./ownership.ts";
import { MANY_MENTIONS, spamSignals } from "./spam-signals.ts";
import {
  type AddOutcome,
  dayOf,
  type Interaction,
  type InteractionActor,
  type InteractionStore,
  serverOf,
} from "./store.ts";

const logger = getLogger(["herald", "federation", "interactions"]);

/** A reply longer than this (sanitised HTML) is not shown: no server sends such notes. */
const MAX_REPLY_HTML = 20_000;

export interface InteractionDeps {
  readonly store: InteractionStore;
  /** The id of the published article whose ActivityPub object `url` is, if it is one. */
  readonly articleOf: (url: URL) => Promise<string | undefined>;
  readonly now?: () => Date;
}

/** `Create` of a note replying to an article: a reply, shown on its page. */
export function onCreated(deps: InteractionDeps) {
  const tell = notKept();
  return async (ctx: InboxContext<void>, create: Create): Promise<void> => {
    await keepReply(ctx, deps, create, tell);
  };
}

/** `Update` of a reply we keep, by its author: its new text replaces the old. */
export function onUpdated(deps: InteractionDeps) {
  return async (ctx: InboxContext<void>, update: Update): Promise<void> => {
    await keepReply(ctx, deps, update, "edit");
  };
}

/** `Like` of an article. */
export function onLiked(deps: InteractionDeps) {
  const tell = notKept();
  return async (ctx: InboxContext<void>, like: Like): Promise<void> => {
    await keepInteraction(ctx, deps, like, "like", tell);
  };
}

/** `Announce` (boost) of an article. */
export function onAnnounced(deps: InteractionDeps) {
  const tell = notKept();
  return async (ctx: InboxContext<void>, announce: Announce): Promise<void> => {
    if (!isPublic(announce)) return;
    await keepInteraction(ctx, deps, announce, "boost", tell);
  };
}

/** `Undo` of a like or boost, or `Delete` of a reply: true when something was removed. */
export async function forget(deps: InteractionDeps, id: URL, actorId: URL): Promise<boolean> {
  const removed = await deps.store.remove(id.href, actorId.href);
  if (removed) logger.info("{actor} took back {id}.", { actor: actorId.href, id: id.href });
  return removed;
}

/** A `Create` (told why a reply was not kept) or an `Update` (an edit, or nothing). */
async function keepReply(
  ctx: InboxContext<void>,
  deps: InteractionDeps,
  activity: Create | Update,
  mode: Tell | "edit",
): Promise<void> {
  if (!ownsIds(activity)) return;
  const note = await activity.getObject(loaders(ctx));
  if (!(note instanceof Note || note instanceof ArticleObject)) return;
  const target = note.replyTargetId;
  if (note.id == null || target == null || activity.actorId == null) return;
  const articleId = await deps.articleOf(target);
  if (articleId === undefined) return;
  // Only the author speaks for the note, from its own server, and only public replies are shown.
  if (note.attributionId?.href !== activity.actorId.href) return;
  if (!ownsIds(note, activity.actorId) || !isPublic(note)) return;
  const contentHtml = sanitizeRemoteHtml(String(note.content ?? ""));
  if (contentHtml === "" || contentHtml.length > MAX_REPLY_HTML) return;
  const author = await actorOf(ctx, activity);
  if (author === undefined) return;
  const { actor } = author;
  const url = linkOf(note.url);
  const now = deps.now?.() ?? new Date();
  const signals = spamSignals({
    contentHtml,
    mentionTags: await mentionTags(ctx, note),
    ...(author.created ? { actorPublished: author.created } : {}),
    now,
  });
  const reply: Interaction = {
    kind: "reply",
    id: note.id.href,
    actor,
    ...(url === undefined ? {} : { url }),
    contentHtml,
    published: publishedAt(note, now).toISOString(),
    ...(signals.length > 0 ? { signals } : {}),
  };
  if (mode === "edit") {
    // Only a reply its author stored before: nobody else's, and no new one by `Update`.
    if (await deps.store.edit(articleId, reply)) {
      logger.info("{actor} edited a reply to article {article}.", {
        actor: actor.id,
        article: articleId,
      });
    }
    return;
  }
  const outcome = await deps.store.add(articleId, reply);
  if (outcome === "held") {
    logger.info("{actor} replied to article {article}; held for review (npm run replies).", {
      actor: actor.id,
      article: articleId,
    });
    return;
  }
  if (outcome !== "stored") return mode(outcome, articleId, reply);
  logger.info("{actor} replied to article {article}.", { actor: actor.id, article: articleId });
}

/** How many accounts a note mentions by `Mention` tags (counted up to the spam signal's). */
async function mentionTags(ctx: InboxContext<void>, note: ObjectType): Promise<number> {
  let mentions = 0;
  let seen = 0;
  // Each tag may be a link to fetch: stop as soon as the answer is known, or after a few.
  for await (const tag of note.getTags(loaders(ctx))) {
    if (tag instanceof Mention) mentions++;
    if (mentions >= MANY_MENTIONS || ++seen >= 4 * MANY_MENTIONS) break;
  }
  return mentions;
}

async function keepInteraction(
  ctx: InboxContext<void>,
  deps: InteractionDeps,
  activity: Like | Announce,
  kind: "like" | "boost",
  tell: Tell,
): Promise<void> {
  if (!ownsIds(activity)) return;
  const target = activity.objectId;
  if (activity.id == null || target == null || activity.actorId == null) return;
  const articleId = await deps.articleOf(target);
  if (articleId === undefined) return;
  const author = await actorOf(ctx, activity);
  if (author === undefined) return;
  const { actor } = author;
  const interaction: Interaction = {
    kind,
    id: activity.id.href,
    actor,
    published: (deps.now?.() ?? new Date()).toISOString(),
  };
  const outcome = await deps.store.add(articleId, interaction);
  if (outcome === "held") return;
  if (outcome !== "stored") return tell(outcome, articleId, interaction);
  logger.info("{actor} {did} article {article}.", {
    actor: actor.id,
    did: kind === "like" ? "liked" : "boosted",
    article: articleId,
  });
}

/** Says why `add()` kept nothing. */
type Tell = (
  outcome: Exclude<AddOutcome, "stored" | "held">,
  articleId: string,
  i: Interaction,
) => void;

/** Remembered reasons before they are forgotten (and may be said again). */
const MAX_SAID = 10_000;

/**
 * A `Tell` that says each limit once when it is hit (per article, per actor and article,
 * per server and day), not once per refused item: a flood must not flood the log too.
 */
function notKept(): Tell {
  const said = new Set<string>();
  const once = (key: string, say: () => void) => {
    if (said.has(key)) return;
    if (said.size >= MAX_SAID) said.clear();
    said.add(key);
    say();
  };
  return (outcome, articleId, { id, actor }) => {
    const article = articleId;
    switch (outcome) {
      case "hidden":
        return logger.debug("Not kept: {actor} is hidden.", { actor: actor.id });
      case "replies-off":
        return logger.debug("Not kept: a reply by {actor}, and REPLIES=off.", { actor: actor.id });
      case "taken":
        return logger.warn("Refused {id} from {actor}: that id is someone else's.", {
          id,
          actor: actor.id,
        });
      case "article-full":
        return once(`${outcome} ${article}`, () =>
          logger.warn("Article {article} keeps no more replies, likes or boosts: it is full.", {
            article,
          }),
        );
      case "actor-limit":
        return once(`${outcome} ${actor.id} ${article}`, () =>
          logger.warn(
            "{actor} has as many replies to article {article} as one may; no more kept.",
            {
              actor: actor.id,
              article,
            },
          ),
        );
      case "server-limit": {
        const server = serverOf(actor.id);
        return once(`${outcome} ${server} ${dayOf(new Date())}`, () =>
          logger.warn(
            "{server} sent as many replies today as one server may; no more kept today.",
            {
              server,
            },
          ),
        );
      }
      default:
        return outcome satisfies never;
    }
  };
}

/**
 * The sender, as shown beside its reply (name, `@user@host`, profile link), when its account
 * was created, if it says, and its inbox.
 */
export async function actorOf(
  ctx: InboxContext<void>,
  activity: Activity,
): Promise<{ actor: InteractionActor; created?: Date; inbox?: URL } | undefined> {
  const actor = await activity.getActor(loaders(ctx));
  if (actor == null || !isActor(actor) || actor.id?.href !== activity.actorId?.href) return;
  if (actor.id == null) return;
  const name = actor.name?.toString().trim();
  const username = actor.preferredUsername?.toString().trim();
  const url = linkOf(actor.url) ?? actor.id.href;
  const created = actor.published?.epochMilliseconds;
  return {
    actor: {
      id: actor.id.href,
      ...(name ? { name: name.slice(0, 200) } : {}),
      ...(username ? { handle: `@${username}@${actor.id.host}` } : {}),
      url,
    },
    ...(created === undefined ? {} : { created: new Date(created) }),
    ...(actor.inboxId == null ? {} : { inbox: actor.inboxId }),
  };
}

/**
 * When a reply was written: its `published`, but never later than now, so that no reply can
 * stay first on the page (newest first) by claiming a time to come.
 */
function publishedAt(note: ObjectType, now: Date): Date {
  const claimed = note.published?.epochMilliseconds;
  return claimed === undefined || claimed > now.getTime() ? now : new Date(claimed);
}

export function isPublic(object: ObjectType | Activity): boolean {
  return [...object.toIds, ...object.ccIds].some((id) => id.href === PUBLIC_COLLECTION.href);
}

/** An http(s) link to show, from a `url` that may be a URL or a `Link`. */
export function linkOf(url: ObjectType["url"]): string | undefined {
  const href = url instanceof URL ? url : url?.href;
  return href != null && (href.protocol === "https:" || href.protocol === "http:")
    ? href.href
    : undefined;
}

export function loaders(ctx: InboxContext<void>) {
  return {
    documentLoader: ctx.documentLoader,
    contextLoader: ctx.contextLoader,
    suppressError: true,
  } as const;
}
