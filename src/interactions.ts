/**
 * What readers on other servers did with an article: replies, likes, boosts and quotes, as received
 * by the fediverse account (`federation/interactions/inbox.ts`) and shown by the web site and feeds.
 */

export type InteractionKind = "reply" | "like" | "boost" | "quote";

/**
 * `REPLIES`: `review` holds a new reply until an editor approves it (`npm run replies`),
 * `auto` shows it at once, `off` keeps none. Likes and boosts carry no text: always counted.
 */
export type RepliesMode = "review" | "auto" | "off";
/** `REPLIES_TRUST`: `approved` shows at once the replies of an author with a reply shown. */
export type RepliesTrust = "approved" | "none";
/**
 * `QUOTE_POLICY`: whose quote posts of a story Herald authorizes (FEP-044f): anyone's, only
 * its followers', or nobody's.
 */
export type QuotePolicy = "public" | "followers" | "nobody";

/**
 * What made a reply look like spam when it arrived, shown in the review queue; a reply is
 * never dropped for it. `new-account`: its author's account is less than a day old;
 * `many-links`: three links or more; `many-mentions`: it mentions five accounts or more.
 */
export type SpamSignal = "new-account" | "many-links" | "many-mentions";

export interface InteractionActor {
  readonly id: string;
  /** Display name, plain text. */
  readonly name?: string;
  /** `@user@host`. */
  readonly handle?: string;
  /** The profile page. */
  readonly url?: string;
}

export interface Interaction {
  readonly kind: InteractionKind;
  /** The reply note's id, the like's or boost's activity id, or the quote post's id. */
  readonly id: string;
  readonly actor: InteractionActor;
  /** A reply's web page. */
  readonly url?: string;
  /** A reply's content, sanitised HTML. */
  readonly contentHtml?: string;
  /** ISO time: the note's `published`, or when the like or boost arrived. */
  readonly published: string;
  /** A reply's spam signals, if any. */
  readonly signals?: readonly SpamSignal[];
  /** A quote's: the quoting actor's inbox, where the revocation of its stamp goes. */
  readonly inbox?: string;
}

/** A reply waiting for an editor, with the article it answers. */
export interface HeldReply {
  readonly articleId: string;
  readonly reply: Interaction;
}

export interface InteractionCounts {
  readonly replies: number;
  readonly likes: number;
  readonly boosts: number;
  /** Quote posts (FEP-044f) that Herald authorized. */
  readonly quotes: number;
}

/** One page of an article's replies: `listReplies(id, { limit: 50, offset: 100 })` is page 3. */
export interface ReplyPageOptions {
  /** How many replies at most. */
  readonly limit: number;
  /** How many of the newest to skip; default 0. */
  readonly offset?: number;
}

/** What the web site and feeds read. */
export interface InteractionReader {
  /** When anything last changed (`epoch` if never); caches key on it. */
  changedAt(): Promise<Date>;
  /** An article's interactions, oldest first. */
  list(articleId: string): Promise<readonly Interaction[]>;
  /**
   * One page of an article's replies, newest first (by `published`, then id). Reads only that
   * page; `counts().replies` says how many pages there are.
   */
  listReplies(articleId: string, options: ReplyPageOptions): Promise<readonly Interaction[]>;
  /** Kept as counters: cheap enough to call for every article of a feed. */
  counts(articleId: string): Promise<InteractionCounts>;
}

/**
 * Whose replies, likes and boosts are neither kept nor shown (`HIDE_REACTIONS_FROM`): an
 * account by its actor URL or `@user@host` handle, or a whole server by its host name (its
 * subdomains too).
 */
export type HideRule =
  | { readonly actor: string }
  | { readonly user: string; readonly host: string }
  | { readonly domain: string };

export function isHidden(rules: readonly HideRule[], actor: InteractionActor): boolean {
  if (rules.length === 0) return false;
  const host = URL.parse(actor.id)?.host.toLowerCase() ?? "";
  const handle = actor.handle?.toLowerCase();
  return rules.some((rule) => {
    if ("actor" in rule) return rule.actor === actor.id;
    if ("domain" in rule) return host === rule.domain || host.endsWith(`.${rule.domain}`);
    return handle === `@${rule.user}@${rule.host}`.toLowerCase();
  });
}
