/**
 * Pure converters from articles and change events to ActivityStreams objects and
 * activities. Everything they need (origin, actor, followers) comes in `ObjectContext`.
 */
import type { Context } from "@fedify/fedify";
import {
  Article as ArticleObject,
  Create,
  Delete,
  Document,
  Hashtag,
  InteractionPolicy,
  InteractionRule,
  LanguageString,
  Mention,
  Note,
  PUBLIC_COLLECTION,
  Tombstone,
  Update,
} from "@fedify/vocab";
import sanitizeHtml from "sanitize-html";
import type { Article, ChangeEvent } from "../article.ts";
import { correctionNotesHtml } from "../correction-notes.ts";
import { escapeHtml, unescapeHtml } from "../escape.ts";
import type { QuotePolicy } from "../interactions.ts";
import { absoluteUrls, imageType, imageUrl, inlineImages } from "../links.ts";
import { absolute, paths } from "../urls.ts";
import { toInstant } from "./temporal.ts";

/** How articles appear in the fediverse: Mastodon shows an `Article` as title, summary and link. */
export type PostType = "article" | "note";
export const DEFAULT_POST_TYPE: PostType = "article";

export interface ObjectContext {
  /** The public origin (`PUBLIC_URL`). */
  readonly origin: URL;
  readonly actorId: URL;
  readonly followersId: URL;
  readonly postType: PostType;
  /** `TIME_ZONE`: the dates of correction notices. */
  readonly timeZone: string;
  /**
   * Authors' actors by handle (`mentions.ts`): an article by one of them mentions its author.
   * An author not in it (not looked up, or not found) is not mentioned.
   */
  readonly mentions?: ReadonlyMap<string, { readonly id: URL; readonly url?: URL }>;
  /** `QUOTE_POLICY`: whose quote posts are approved at once; default `public`. */
  readonly quotePolicy?: QuotePolicy;
}

export type Post = ArticleObject | Note;

/** Builds an `ObjectContext` from a Fedify context, so ids are the ones Fedify routes. */
export function objectContextOf(
  ctx: Context<void>,
  identifier: string,
  postType: PostType,
  timeZone = "UTC",
  quotePolicy: QuotePolicy = "public",
): ObjectContext {
  return {
    origin: new URL(ctx.canonicalOrigin),
    actorId: ctx.getActorUri(identifier),
    followersId: ctx.getFollowersUri(identifier),
    postType,
    timeZone,
    quotePolicy,
  };
}

/** The ActivityPub id of an article: its stable store id, never its slug. */
export function objectId(articleId: string, ctx: ObjectContext): URL {
  return absolute(ctx.origin, paths.object(articleId));
}

export interface PostOptions {
  /** Overrides `updated` (an `Update` must carry a newer time than the last one). */
  readonly updated?: Date;
}

/** The article as the configured post type. */
export function toPost(article: Article, ctx: ObjectContext, options: PostOptions = {}): Post {
  return ctx.postType === "note"
    ? toNote(article, ctx, options)
    : toArticleObject(article, ctx, options);
}

export function toArticleObject(
  article: Article,
  ctx: ObjectContext,
  options: PostOptions = {},
): ArticleObject {
  return new ArticleObject({
    ...commonFields(article, ctx, options),
    // ActivityStreams 2.0: `name` is plain text, `summary` and `content` are HTML
    // (https://www.w3.org/TR/activitystreams-vocabulary/#dfn-summary), so the summary, plain
    // text like the title, is escaped: `a < b` must not reach Mastodon as a tag.
    name: article.title,
    // Mastodon shows an Article as name + summary + link and drops `content`, so the
    // summary must never be empty.
    summary: escapeHtml(summaryOf(article)),
    contents: contentsOf(contentOf(article, ctx), article.language),
  });
}

/** The content, also as `contentMap` keyed by the article's language. */
function contentsOf(html: string, language: string): [string, LanguageString] {
  return [html, new LanguageString(html, language)];
}

/**
 * The article's HTML with links and image sources absolute, for servers far from the site,
 * and its correction notices after it.
 */
function contentOf(article: Article, ctx: ObjectContext): string {
  const notes = correctionNotesHtml(article, ctx.timeZone);
  return (
    bylineHtml(article, ctx) +
    absoluteUrls(article.contentHtml, ctx.origin) +
    (notes === "" ? "" : `\n${notes}`)
  );
}

/**
 * The author's name and a link to their account, as Mastodon writes a mention, so the post's
 * text names whom its `Mention` tag notifies; nothing when the author's account is not known.
 */
export function bylineHtml(article: Article, ctx: ObjectContext): string {
  const author = mentionedAuthor(article, ctx);
  if (author === undefined) return "";
  const user = author.handle.split("@")[1] ?? author.handle;
  const mention =
    `<span class="h-card" translate="no"><a href="${escapeHtml(author.url.href)}" ` +
    `class="u-url mention">@<span>${escapeHtml(user)}</span></a></span>`;
  const name = article.author === undefined ? "" : `${escapeHtml(article.author)} `;
  return `<p>${name}${mention}</p>`;
}

/** A `Note` for timelines that show content: the title in bold, the text, then the link. */
export function toNote(article: Article, ctx: ObjectContext, options: PostOptions = {}): Note {
  const url = absolute(ctx.origin, paths.article(article.slug)).href;
  const html =
    `<p><strong>${escapeHtml(article.title)}</strong></p>${contentOf(article, ctx)}` +
    `<p><a href="${escapeHtml(url)}">${escapeHtml(url)}</a></p>`;
  // No `name` (Mastodon would take the Note for a poll vote) and no `summary` (a content warning).
  return new Note({
    ...commonFields(article, ctx, options),
    contents: contentsOf(html, article.language),
  });
}

export function toTombstone(article: Article, ctx: ObjectContext, deletedAt?: Date): Tombstone {
  return new Tombstone({
    id: objectId(article.id, ctx),
    formerType: ctx.postType === "note" ? Note : ArticleObject,
    deleted: deletedAt == null ? null : toInstant(deletedAt),
  });
}

type EventOf<T extends ChangeEvent["type"]> = ChangeEvent & { readonly type: T };

/**
 * A `Create` for a new article. Its id needs no `seq`: an object is created once (store ids
 * are never reused), and this way the outbox lists the very `Create` that was delivered.
 */
export function toCreate(article: Article, ctx: ObjectContext): Create {
  const id = objectId(article.id, ctx);
  return new Create({
    id: new URL(`${id.href}#create`),
    actor: ctx.actorId,
    published: toInstant(article.published),
    to: PUBLIC_COLLECTION,
    ccs: copied(article, ctx),
    object: toPost(article, ctx),
  });
}

/**
 * An `Update` whose id derives from the event's `seq`, so re-sending the same event yields
 * the same id. Its `updated` is never older than the event: Mastodon ignores an edit
 * whose `updated` is not newer than the one it already has.
 */
export function toUpdate(event: EventOf<"updated">, ctx: ObjectContext): Update {
  const { article } = event;
  const updated = latest(article.updated, event.at);
  return new Update({
    id: new URL(`${objectId(article.id, ctx).href}#update-${event.seq}`),
    actor: ctx.actorId,
    published: toInstant(updated),
    to: PUBLIC_COLLECTION,
    ccs: copied(article, ctx),
    object: toPost(article, ctx, { updated }),
  });
}

export function toDelete(event: EventOf<"deleted">, ctx: ObjectContext): Delete {
  return new Delete({
    id: new URL(`${objectId(event.article.id, ctx).href}#delete-${event.seq}`),
    actor: ctx.actorId,
    published: toInstant(event.at),
    to: PUBLIC_COLLECTION,
    cc: ctx.followersId,
    object: toTombstone(event.article, ctx, event.at),
  });
}

export function toActivity(event: ChangeEvent, ctx: ObjectContext): Create | Update | Delete {
  switch (event.type) {
    case "created":
      return toCreate(event.article, ctx);
    case "updated":
      return toUpdate(event, ctx);
    case "deleted":
      return toDelete(event, ctx);
    default:
      return event satisfies never;
  }
}

function commonFields(article: Article, ctx: ObjectContext, options: PostOptions) {
  const updated = options.updated ?? article.updated;
  const author = mentionedAuthor(article, ctx);
  return {
    id: objectId(article.id, ctx),
    attribution: ctx.actorId,
    to: PUBLIC_COLLECTION,
    ccs: copied(article, ctx),
    url: absolute(ctx.origin, paths.article(article.slug)),
    published: toInstant(article.published),
    // Only an edit has `updated`; Mastodon marks a post carrying one as edited.
    updated: updated.getTime() > article.published.getTime() ? toInstant(updated) : null,
    tags: [
      ...article.tags.map((tag) => toHashtag(tag, ctx)),
      ...(author === undefined ? [] : [new Mention({ href: author.id, name: author.handle })]),
    ],
    attachments: attachmentsOf(article, ctx),
    interactionPolicy: interactionPolicyOf(ctx),
  };
}

/**
 * FEP-044f as Mastodon 4.5 reads it: `canQuote.automaticApproval` names who may quote the post
 * (the public, or the followers); the actor alone means nobody else may. Quotes are answered by
 * `interactions/quotes.ts` with the same rule; likes, replies and boosts stay open to all.
 */
export function interactionPolicyOf(ctx: ObjectContext): InteractionPolicy {
  const policy = ctx.quotePolicy ?? "public";
  const approved =
    policy === "public"
      ? PUBLIC_COLLECTION
      : policy === "followers"
        ? ctx.followersId
        : ctx.actorId;
  return new InteractionPolicy({
    canQuote: new InteractionRule({ automaticApprovals: [approved] }),
  });
}

/** The article's author, if their account is known (`ObjectContext.mentions`). */
export function mentionedAuthor(
  article: Article,
  ctx: ObjectContext,
): { readonly handle: string; readonly id: URL; readonly url: URL } | undefined {
  const handle = article.authorFediverse;
  const actor = handle === undefined ? undefined : ctx.mentions?.get(handle);
  if (handle === undefined || actor === undefined) return undefined;
  return { handle, id: actor.id, url: actor.url ?? actor.id };
}

/** `cc`: the followers, and the mentioned author (Mastodon notifies those addressed). */
function copied(article: Article, ctx: ObjectContext): URL[] {
  const author = mentionedAuthor(article, ctx);
  return author === undefined ? [ctx.followersId] : [ctx.followersId, author.id];
}

export function toHashtag(tag: string, ctx: ObjectContext): Hashtag {
  return new Hashtag({
    href: absolute(ctx.origin, paths.tag(tag)),
    name: `#${tag.replace(/\s+/g, "")}`,
  });
}

/**
 * The front matter `image`, then every image in the text, as attachments with their alt text:
 * Mastodon strips `<img>` from posts and shows attachments instead.
 */
function attachmentsOf(article: Article, ctx: ObjectContext): Document[] {
  const images = inlineImages(article.contentHtml, ctx.origin);
  if (article.image != null) {
    const alt = article.image.alt?.trim();
    images.unshift({ url: imageUrl(article.image, ctx.origin), ...(alt ? { alt } : {}) });
  }
  const seen = new Set<string>();
  const unique = images.filter(({ url }) => {
    if (seen.has(url.href)) return false;
    seen.add(url.href);
    return true;
  });
  return unique.map(
    ({ url, alt }) => new Document({ url, mediaType: imageType(url) ?? null, name: alt ?? null }),
  );
}

/** The article's summary, or failing that the start of its text, or its title. */
export function summaryOf(article: Article): string {
  const summary = article.summary.trim();
  if (summary !== "") return summary;
  const text = htmlToText(article.contentHtml);
  if (text === "") return article.title;
  return text.length > 500 ? `${text.slice(0, 499).trimEnd()}…` : text;
}

/** Elements that separate words: their tags become spaces in `htmlToText()`. */
const blockTags = [
  ...["p", "br", "div", "li", "ul", "ol", "blockquote", "pre", "figure", "figcaption"],
  ...["h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th"],
];

/**
 * The text a reader sees of HTML, on one line: what Mastodon shows of a `summary` or `content`.
 * sanitize-html reads it as a browser does (every entity decoded; script and style dropped
 * with their text) and keeps only the block tags, bare; it escapes `<` in text, so those
 * tags are the only `<…>` left, and become spaces.
 */
export function htmlToText(html: string): string {
  const blocks = sanitizeHtml(html, { allowedTags: blockTags, allowedAttributes: {} });
  return unescapeHtml(blocks.replace(/<[^>]*>/g, " "))
    .replace(/\s+/g, " ")
    .trim();
}

function latest(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}
