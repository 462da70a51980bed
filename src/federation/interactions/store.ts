/**
 * Replies, likes, boosts and quotes the articles received from the fediverse: the store's interface,
 * its limits, and the rules every engine follows (`backends/sqlite/interactions.ts`,
 * `backends/postgres/interactions.ts` implement it; one contract suite runs over both).
 *
 * Ids are owned: an interaction is stored under its id (a reply's note id, a like's or
 * boost's activity id), and only the actor that stored it may edit or remove it. Nobody
 * else's `Like`, `Create`, `Update`, `Undo` or `Delete` naming that id changes anything.
 *
 * Storage is bounded and cheap: each article keeps at most `maxPerArticle` interactions,
 * each actor `maxRepliesPerActor` replies per article, each server `maxRepliesPerServerPerDay`
 * new replies a day; counts are counters updated with each change, so storing a reply reads a
 * few index entries whatever the number already stored.
 *
 * A reply is shown or held (`REPLIES=review`): a held one is kept, and counts against every
 * limit above, but is neither listed nor counted until `approve()`; `reject()` removes it. Its
 * counter is kept under the kind `held`, so the article's total still bounds the flood.
 */
import {
  type HeldReply,
  type HideRule,
  type Interaction,
  type InteractionCounts,
  type InteractionKind,
  type InteractionReader,
  isHidden,
  type RepliesMode,
  type RepliesTrust,
} from "../../interactions.ts";

export type { HeldReply, Interaction, InteractionActor } from "../../interactions.ts";

/** What `add()` did: stored it, or why not. */
export type AddOutcome =
  /** Stored: new, or a redelivery or edit by its own author. */
  | "stored"
  /** Stored, held for review: not shown nor counted until approved. */
  | "held"
  /** A reply, and `REPLIES=off`. */
  | "replies-off"
  /** Its author is in `HIDE_REACTIONS_FROM`. */
  | "hidden"
  /** Its id is another actor's interaction (or another article's, or another kind's). */
  | "taken"
  /** The article keeps as many as it may (`maxPerArticle`). */
  | "article-full"
  /** The actor has as many replies on the article as it may (`maxRepliesPerActor`). */
  | "actor-limit"
  /** The actor's server sent as many replies today as it may (`maxRepliesPerServerPerDay`). */
  | "server-limit";

export interface InteractionStore extends InteractionReader {
  /**
   * Stores one interaction with an article. A like, boost or quote replaces the same actor's
   * earlier one (an actor counts once); the same id again from its own author replaces it.
   */
  add(articleId: string, interaction: Interaction): Promise<AddOutcome>;
  /** Replaces a reply its own author stored before (an `Update`); false when there is none. */
  edit(articleId: string, reply: Interaction): Promise<boolean>;
  /** Removes what `id` (a note or an activity) is, if `actorId` stored it; true when removed. */
  remove(id: string, actorId: string): Promise<boolean>;
  /** Removes everything an actor added (its account was deleted); how many. */
  removeActor(actorId: string): Promise<number>;
  /** The replies held for review, newest first; of one article only with `articleId`. */
  held(articleId?: string): Promise<readonly HeldReply[]>;
  /** How many replies wait for review. */
  countHeld(): Promise<number>;
  /** Shows a held reply; false when `id` is no held reply. */
  approve(id: string): Promise<boolean>;
  /** Removes a reply, held or shown (a takedown); false when `id` is no reply. */
  reject(id: string): Promise<boolean>;
}

/** How many interactions one article keeps at most; beyond, new ones are not stored. */
export const MAX_INTERACTIONS_PER_ARTICLE = 5000;
/** Replies of one actor to one article: a conversation, not a flood. */
export const MAX_REPLIES_PER_ACTOR = 20;
/** New replies from one server (its host) a day, over all articles. */
export const MAX_REPLIES_PER_SERVER_PER_DAY = 200;

export interface InteractionStoreOptions {
  /** Default `MAX_INTERACTIONS_PER_ARTICLE`. */
  readonly maxPerArticle?: number;
  /** Default `MAX_REPLIES_PER_ACTOR`. */
  readonly maxRepliesPerActor?: number;
  /** Default `MAX_REPLIES_PER_SERVER_PER_DAY`. */
  readonly maxRepliesPerServerPerDay?: number;
  /** Whose interactions are neither stored nor listed nor counted (`HIDE_REACTIONS_FROM`). */
  readonly hide?: readonly HideRule[];
  /** `REPLIES`; default `auto` (the configuration's default is `review`). */
  readonly replies?: RepliesMode;
  /** `REPLIES_TRUST`; default `approved`. */
  readonly trust?: RepliesTrust;
  /** The clock, for the day of the per-server quota. */
  readonly now?: () => Date;
}

export type Limits = Required<Omit<InteractionStoreOptions, "hide" | "now" | "replies" | "trust">>;

export function limitsOf(options: InteractionStoreOptions): Limits {
  return {
    maxPerArticle: options.maxPerArticle ?? MAX_INTERACTIONS_PER_ARTICLE,
    maxRepliesPerActor: options.maxRepliesPerActor ?? MAX_REPLIES_PER_ACTOR,
    maxRepliesPerServerPerDay: options.maxRepliesPerServerPerDay ?? MAX_REPLIES_PER_SERVER_PER_DAY,
  };
}

/** Where an id is stored already. */
export interface Owner {
  readonly actorId: string;
  readonly articleId: string;
  readonly kind: InteractionKind;
  /** A reply held for review. */
  readonly held: boolean;
}

/** What an engine reads (in one transaction) before `planAdd()` decides. */
export interface AddFacts {
  /** Who holds the interaction's id already, if anyone. */
  readonly owner: Owner | undefined;
  /** A like, boost or quote: the id of the same actor's earlier one on the article. */
  readonly previous: string | undefined;
  /** Interactions the article keeps (its counters' sum). */
  readonly total: number;
  /** The actor's replies to the article. */
  readonly byActor: number;
  /** Replies stored today from the actor's server. */
  readonly byServerToday: number;
}

/** What an engine then writes; `count` moves the counters and the server's quota. */
export type AddPlan =
  | { readonly outcome: Exclude<AddOutcome, "stored" | "held"> }
  | { readonly outcome: "stored"; readonly replace: "same-id" }
  | { readonly outcome: "stored"; readonly replace: "previous"; readonly previous: string }
  | { readonly outcome: "stored"; readonly replace: "none" };

/** The rules of `add()`, the same for every engine. */
export function planAdd(
  articleId: string,
  interaction: Interaction,
  facts: AddFacts,
  limits: Limits,
  replies: RepliesMode = "auto",
): AddPlan {
  const { owner } = facts;
  if (owner !== undefined) {
    const same =
      owner.actorId === interaction.actor.id &&
      owner.articleId === articleId &&
      owner.kind === interaction.kind;
    return same ? { outcome: "stored", replace: "same-id" } : { outcome: "taken" };
  }
  if (interaction.kind === "reply" && replies === "off") return { outcome: "replies-off" };
  if (facts.previous !== undefined) {
    return { outcome: "stored", replace: "previous", previous: facts.previous };
  }
  if (facts.total >= limits.maxPerArticle) return { outcome: "article-full" };
  if (interaction.kind === "reply") {
    if (facts.byActor >= limits.maxRepliesPerActor) return { outcome: "actor-limit" };
    if (facts.byServerToday >= limits.maxRepliesPerServerPerDay) {
      return { outcome: "server-limit" };
    }
  }
  return { outcome: "stored", replace: "none" };
}

/** The server an actor is on, as quotas and `{ domain }` hide rules see it: its host. */
export function serverOf(actorId: string): string {
  return URL.parse(actorId)?.host.toLowerCase() ?? "";
}

/** The UTC day of `at`, `2026-11-29`: the per-server quota's period. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The columns the hide rules look at, stored with each interaction. */
export function hideColumns(interaction: Interaction) {
  return {
    server: serverOf(interaction.actor.id),
    handle: interaction.actor.handle?.toLowerCase() ?? null,
  };
}

/**
 * The hide rules, split by the column each one tests: actor ids, `@user@host` handles
 * (lower case), and servers (a domain and its subdomains: `server = d OR server LIKE '%.d'`).
 */
export function hideLists(rules: readonly HideRule[]) {
  const actors: string[] = [];
  const handles: string[] = [];
  const domains: string[] = [];
  for (const rule of rules) {
    if ("actor" in rule) actors.push(rule.actor);
    else if ("domain" in rule) domains.push(rule.domain.toLowerCase());
    else handles.push(`@${rule.user}@${rule.host}`.toLowerCase());
  }
  return { actors, handles, domains };
}

/** A `LIKE` pattern (escape `\`) matching hosts under `domain`. */
export function subdomainPattern(domain: string): string {
  return `%.${domain.replace(/[\\%_]/g, (c) => `\\${c}`)}`;
}

/** Whether `reply` may replace what `owner` stored: the same actor's reply to the same article. */
export function isOwnReply(owner: Owner, articleId: string, reply: Interaction): boolean {
  return (
    owner.kind === "reply" &&
    reply.kind === "reply" &&
    owner.actorId === reply.actor.id &&
    owner.articleId === articleId
  );
}

/** An `Owner` from a row with `actor_id`, `article_id`, `kind` and `status` columns. */
export function ownerOf(row: Record<string, unknown>): Owner {
  return {
    actorId: String(row.actor_id),
    articleId: String(row.article_id),
    kind: row.kind as InteractionKind,
    held: row.status === "held",
  };
}

/** A row's status: a reply is `held` for review or `shown`; likes and boosts are shown. */
export type Status = "held" | "shown";

/**
 * Whether a new (or edited) reply is held: in `review`, unless its author is trusted (with
 * `REPLIES_TRUST=approved`, an author with a reply shown already). `unless-trusted`: the
 * engine asks its tables, only then, since that reads the store.
 */
export function reviewOf(
  interaction: Interaction,
  options: InteractionStoreOptions,
): Status | "unless-trusted" {
  if (interaction.kind !== "reply" || (options.replies ?? "auto") !== "review") return "shown";
  return (options.trust ?? "approved") === "none" ? "held" : "unless-trusted";
}

/** The counter a row counts under: its kind, or `held` for a held reply. */
export function counterOf(kind: string, status: unknown): string {
  return status === "held" ? "held" : kind;
}

export function countsOf(counts: Record<InteractionKind, number>): InteractionCounts {
  return { replies: counts.reply, likes: counts.like, boosts: counts.boost, quotes: counts.quote };
}

/** How long a process trusts its last read of the change time (other processes may write). */
export const CHANGE_CHECK_MS = 500;

/**
 * When interactions last changed, as this process last read (`read`) or wrote it (`wrote`):
 * read again once the last read is older than `CHANGE_CHECK_MS`. Both engines keep it so.
 */
export function changeClock(read: () => Date | Promise<Date>) {
  let known: { at: Date; readAt: number } | undefined;
  return {
    async at(): Promise<Date> {
      if (known === undefined || performance.now() - known.readAt > CHANGE_CHECK_MS) {
        const at = await read();
        known = { at, readAt: performance.now() };
      }
      return known.at;
    },
    wrote(at: Date): void {
      known = { at, readAt: performance.now() };
    },
  };
}

/** One row of counts by kind, as both engines read them. */
export interface KindCount {
  readonly kind?: unknown;
  readonly n?: unknown;
}

/**
 * The shown counts of an article: its stored counters but the held one, less the shown rows
 * that the hide rules hide now (the counters were kept before the rules changed).
 */
export function shownCounts(
  stored: readonly KindCount[],
  hidden: readonly KindCount[],
): InteractionCounts {
  const counts = { reply: 0, like: 0, boost: 0, quote: 0 };
  for (const { kind, n } of stored) {
    if (kind !== "held") counts[kind as InteractionKind] += Number(n);
  }
  for (const { kind, n } of hidden) counts[kind as InteractionKind] -= Number(n);
  return countsOf(counts);
}

export { isHidden };
