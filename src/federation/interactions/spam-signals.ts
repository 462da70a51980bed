/**
 * What makes an arriving reply look like spam, for the editors' review queue (`npm run
 * replies`). A signal never drops a reply: it only says what to look at first.
 */
import type { SpamSignal } from "../../interactions.ts";

/** An account younger than this is new: spam accounts are made just before they post. */
export const NEW_ACCOUNT_MS = 24 * 60 * 60 * 1000;
/** Links (not mentions nor hashtags) from which a reply carries `many-links`. */
export const MANY_LINKS = 3;
/** Mentioned accounts from which a reply carries `many-mentions`. */
export const MANY_MENTIONS = 5;

export interface ReplyFacts {
  /** The reply's sanitised HTML (`sanitizeRemoteHtml()`). */
  readonly contentHtml: string;
  /** How many `Mention` tags the note carries. */
  readonly mentionTags: number;
  /** When the author's account was created (the actor's `published`), if it says. */
  readonly actorPublished?: Date;
  readonly now: Date;
}

/** The signals of one reply, in a fixed order; empty when nothing stands out. */
export function spamSignals(facts: ReplyFacts): SpamSignal[] {
  const signals: SpamSignal[] = [];
  const created = facts.actorPublished?.getTime();
  if (created !== undefined && facts.now.getTime() - created < NEW_ACCOUNT_MS) {
    signals.push("new-account");
  }
  const anchors = anchorTexts(facts.contentHtml);
  // Mastodon and most servers write a mention as a link reading `@user`, a hashtag as `#tag`.
  const links = anchors.filter((text) => !/^[@#]/.test(text)).length;
  const mentions = Math.max(facts.mentionTags, anchors.filter((t) => t.startsWith("@")).length);
  if (links >= MANY_LINKS) signals.push("many-links");
  if (mentions >= MANY_MENTIONS) signals.push("many-mentions");
  return signals;
}

/** The text of each link in sanitised HTML (only `p`, `br` and `a` are left in it). */
function anchorTexts(html: string): string[] {
  return [...html.matchAll(/<a\b[^>]*>([\s\S]*?)<\/a>/gi)].map((m) =>
    (m[1] ?? "").replace(/<[^>]*>/g, "").trim(),
  );
}
