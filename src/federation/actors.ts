/**
 * The actors Fedify serves: the account's (`ACCOUNT_USERNAME`) and, with `SECTIONS`, each
 * section's, with their key pairs and the handles WebFinger resolves to them.
 */
import type { Context, Federation } from "@fedify/fedify";
import type { Actor } from "@fedify/vocab";
import { absolute, paths } from "../urls.ts";
import { type AccountProfile, toActor } from "./actor.ts";
import type { FederationDeps, FederationOptions } from "./federation.ts";
import { federationPaths } from "./federation.ts";
import { readMovedTo } from "./migration.ts";
import { sectionActor } from "./sections/accounts.ts";

export function registerActors(
  federation: Federation<void>,
  options: FederationOptions,
  deps: Pick<FederationDeps, "kv" | "keys" | "sections">,
): void {
  const { username } = options;
  const { keys } = deps;
  const isAccount = (identifier: string) => identifier === username;
  const sectionOf = (identifier: string) => deps.sections?.get(identifier);
  const actor = federation.setActorDispatcher(federationPaths.actor, (ctx, identifier) => {
    if (isAccount(identifier)) return accountActor(ctx, options, deps);
    const section = sectionOf(identifier);
    return section ? sectionActor(ctx, resolveProfile(options, keys.createdAt), section) : null;
  });
  // RSA first: the actor's `publicKey` is the first pair's.
  actor.setKeyPairsDispatcher((_ctx, identifier) => {
    const pairs = isAccount(identifier) ? keys : sectionOf(identifier)?.keys;
    return pairs ? [pairs.rsa, pairs.ed25519] : [];
  });
  actor.mapHandle((_ctx, handle) => {
    const name = handle.toLowerCase();
    if (name === username.toLowerCase()) return username;
    return sectionOf(name) ? name : null;
  });
}

/**
 * The actor document, as served and as sent in an `Update`. `movedTo` is read from the KV
 * store on every call: `npm run move` sets it while the service runs.
 */
export async function accountActor(
  ctx: Context<void>,
  options: FederationOptions,
  deps: Pick<FederationDeps, "kv" | "keys">,
): Promise<Actor> {
  const { username } = options;
  const movedTo = await readMovedTo(deps.kv);
  const profile = {
    ...resolveProfile(options, deps.keys.createdAt),
    ...(movedTo == null ? {} : { movedTo }),
  };
  return toActor(ctx, username, username, profile, await ctx.getActorKeyPairs(username));
}

export function resolveProfile(options: FederationOptions, keysCreatedAt: Date): AccountProfile {
  const profile = options.profile ?? {};
  const origin = options.origin;
  return {
    type: profile.type ?? "Service",
    name: profile.name ?? options.username,
    ...(profile.summary == null ? {} : { summary: profile.summary }),
    ...(profile.avatar == null ? {} : { avatar: profile.avatar }),
    ...(profile.header == null ? {} : { header: profile.header }),
    url: profile.url ?? absolute(origin, paths.home),
    fields: profile.fields ?? [
      { name: "Website", value: absolute(origin, paths.home) },
      { name: "RSS", value: absolute(origin, paths.rss) },
      { name: "Atom", value: absolute(origin, paths.atom) },
      { name: "JSON Feed", value: absolute(origin, paths.json) },
    ],
    discoverable: profile.discoverable ?? true,
    indexable: profile.indexable ?? true,
    published: profile.published ?? keysCreatedAt,
    ...(profile.aliases == null ? {} : { aliases: profile.aliases }),
  };
}
