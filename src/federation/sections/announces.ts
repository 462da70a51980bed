/**
 * Pure converters for the sections' boosts: a section shares a story by announcing the main
 * account's post (so a reader following both sees the post once), and takes it back with an
 * `Undo` of that very `Announce`.
 */
import type { Context } from "@fedify/fedify";
import { Announce, PUBLIC_COLLECTION, Undo } from "@fedify/vocab";
import type { Article } from "../../article.ts";
import { type ObjectContext, objectId } from "../objects.ts";
import { toInstant } from "../temporal.ts";

/** The section's actor and followers collection. */
export interface SectionContext {
  readonly actorId: URL;
  readonly followersId: URL;
}

export function sectionContextOf(ctx: Context<void>, id: string): SectionContext {
  return { actorId: ctx.getActorUri(id), followersId: ctx.getFollowersUri(id) };
}

/**
 * The id of the section's boost of an article, from the event that made it (`seq`): a
 * re-offered event yields the same id, and a boost after an `Undo` a new one.
 */
export function announceId(section: SectionContext, articleId: string, seq: number): URL {
  return new URL(`#announces/${encodeURIComponent(articleId)}/${seq}`, section.actorId);
}

/** The section's boost of the main account's post of `article`. */
export function toAnnounce(
  id: URL,
  article: Pick<Article, "id" | "published">,
  section: SectionContext,
  main: ObjectContext,
  at: Date,
): Announce {
  return new Announce({
    id,
    actor: section.actorId,
    published: toInstant(latest(article.published, at)),
    to: PUBLIC_COLLECTION,
    ccs: [section.followersId, main.actorId],
    object: objectId(article.id, main),
  });
}

/** Takes the boost `announce` back. Its id derives from the boost's and the event's `seq`. */
export function toUndoAnnounce(announce: Announce, section: SectionContext, seq: number): Undo {
  return new Undo({
    id: new URL(`${announce.id?.href ?? section.actorId.href}/undo/${seq}`),
    actor: section.actorId,
    to: PUBLIC_COLLECTION,
    cc: section.followersId,
    object: announce,
  });
}

function latest(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}
