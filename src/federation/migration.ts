/**
 * Account migration, both ways: the aliases (`alsoKnownAs`) that let another account move
 * here, and the move away (`movedTo` + `Move`), modelled on Mastodon
 * (app/lib/activitypub/activity/move.rb): a follower's server re-fetches this actor and
 * requires its `movedTo` to be the target, and the target's `alsoKnownAs` to name this actor.
 */
import {
  type Context,
  getDocumentLoader,
  type KvKey,
  type KvStore,
  validatePublicUrl,
} from "@fedify/fedify";
import { isActor, Move } from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import { parseAlias } from "../config.ts";

const logger = getLogger(["herald", "federation", "migration"]);

/** Where `npm run move` records the new account; the actor dispatcher reads it on every request. */
export const MOVED_TO_KEY: KvKey = ["herald", "account", "movedTo"];

/** The account the actor moved to, if it did. */
export async function readMovedTo(kv: KvStore): Promise<URL | undefined> {
  const value = await kv.get<string>(MOVED_TO_KEY);
  return value == null ? undefined : (URL.parse(value) ?? undefined);
}

export async function saveMovedTo(kv: KvStore, target: URL): Promise<void> {
  await kv.set(MOVED_TO_KEY, target.href);
}

export interface ResolveOptions {
  /**
   * `ALLOW_PRIVATE_ADDRESS`: loopback and private hosts may be looked up (tests only). It
   * never changes the scheme: WebFinger is https (RFC 7033 §4), as every server expects.
   */
  readonly allowPrivateAddress?: boolean;
  readonly timeoutMs?: number;
}

/**
 * The actor URL of an account given as a URL (returned as is) or a `@user@host` handle
 * (looked up with WebFinger). Throws an `Error` saying why when it cannot be found.
 */
export async function resolveAccount(account: string, options: ResolveOptions = {}): Promise<URL> {
  const parsed = parseAlias(account);
  if (parsed === undefined)
    throw new Error(`"${account}" is neither a URL nor a @user@host handle.`);
  if (parsed instanceof URL) return parsed;
  const resource = `acct:${parsed.user}@${parsed.host}`;
  const url = new URL(`https://${parsed.host}/.well-known/webfinger`);
  url.searchParams.set("resource", resource);
  let response: Response;
  try {
    if (!options.allowPrivateAddress) await validatePublicUrl(url.href);
    response = await fetch(url, {
      headers: { Accept: "application/jrd+json, application/json" },
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw new Error(`WebFinger for ${resource} failed: ${String(error)}.`);
  }
  if (!response.ok) throw new Error(`WebFinger for ${resource} answered HTTP ${response.status}.`);
  const jrd = (await response.json().catch(() => undefined)) as
    | { links?: { rel?: string; type?: string; href?: string }[] }
    | undefined;
  const self = jrd?.links?.find(
    (link) =>
      link.rel === "self" &&
      /^application\/(activity\+json|ld\+json)/.test(link.type ?? "") &&
      typeof link.href === "string",
  );
  const href = self?.href == null ? undefined : URL.parse(self.href);
  if (href == null) throw new Error(`WebFinger for ${resource} names no ActivityPub actor.`);
  return href;
}

/**
 * `ALIASES` as actor URLs. A handle that cannot be resolved is logged and left out: the
 * account still runs, only that alias is missing until the next start.
 */
export async function resolveAliases(
  aliases: readonly string[],
  options: ResolveOptions = {},
): Promise<URL[]> {
  const resolved = await Promise.all(
    aliases.map(async (alias) => {
      try {
        return await resolveAccount(alias, options);
      } catch (error) {
        logger.error("ALIASES: left out {alias}: {reason}", {
          alias,
          reason: error instanceof Error ? error.message : String(error),
        });
        return undefined;
      }
    }),
  );
  return resolved.filter((url) => url !== undefined);
}

/** What `checkMoveTarget()` found. */
export type MoveCheck =
  | { readonly ok: true; readonly target: URL; readonly name: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Whether the account `target` (URL or handle) may be moved to: it must be an actor other
 * than `self` whose `alsoKnownAs` lists `self`, as Mastodon requires before following a Move.
 */
export async function checkMoveTarget(
  ctx: Context<void>,
  self: URL,
  target: string,
  options: ResolveOptions = {},
): Promise<MoveCheck> {
  let url: URL;
  try {
    url = await resolveAccount(target, options);
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
  // Fetched afresh, not through `ctx.documentLoader`, which keeps documents for five minutes:
  // after a refusal the user adds the alias and runs this again right away.
  const documentLoader = getDocumentLoader({
    allowPrivateAddress: options.allowPrivateAddress ?? false,
  });
  const actor = await ctx.lookupObject(url, { documentLoader }).catch(() => null);
  if (actor == null || !isActor(actor) || actor.id == null) {
    return { ok: false, reason: `${url.href} did not answer with an ActivityPub actor.` };
  }
  if (actor.id.href === self.href) {
    return { ok: false, reason: "That is this account: name the account to move to." };
  }
  const name = actor.preferredUsername?.toString() ?? actor.id.href;
  if (!actor.aliasIds.some((alias) => alias.href === self.href)) {
    return {
      ok: false,
      reason:
        `${target} does not list this account as an alias yet. On the new account, add ${self.href} ` +
        `as an alias (Mastodon: Preferences → Account → Moving from a different account → ` +
        `"Create an account alias"), then run this again.`,
    };
  }
  return { ok: true, target: actor.id, name };
}

/** `Move{actor: us, object: us, target}`; its id is stable per target, so a re-run is a duplicate. */
export function toMove(ctx: Context<void>, identifier: string, target: URL): Move {
  const self = ctx.getActorUri(identifier);
  return new Move({
    id: new URL(`${self.href}#moves/${encodeURIComponent(target.href)}`),
    actor: self,
    object: self,
    target,
    to: ctx.getFollowersUri(identifier),
  });
}
