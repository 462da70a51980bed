/**
 * The section accounts (`SECTIONS`, issue #18.3): each its own actor `@id@host`, with its own
 * key pairs (under `KEYS_DIR/sections/<id>/`, kept like the main account's) and followers.
 */
import { join } from "node:path";
import type { Context, KvStore } from "@fedify/fedify";
import type { Actor } from "@fedify/vocab";
import type { SectionConfig } from "../../config-sections.ts";
import { absolute, paths } from "../../urls.ts";
import { type AccountProfile, toActor } from "../actor.ts";
import type { FollowerStore } from "../followers.ts";
import { type AccountKeys, loadOrCreateKeys } from "../keys.ts";

export interface SectionAccount {
  readonly section: SectionConfig;
  readonly keys: AccountKeys;
  readonly followers: FollowerStore;
}

/** The section accounts by id (= username = actor identifier), in configuration order. */
export type SectionAccounts = ReadonlyMap<string, SectionAccount>;

export interface SectionsDeps {
  readonly keysDir: string;
  readonly kv: KvStore;
  readonly followersOf: (account: string) => Promise<FollowerStore>;
}

/** Opens every section's keys (created on its first start) and followers. */
export async function openSections(
  sections: readonly SectionConfig[],
  deps: SectionsDeps,
): Promise<SectionAccounts> {
  const accounts = new Map<string, SectionAccount>();
  for (const section of sections) {
    const keys = await loadOrCreateKeys(sectionKeysDir(deps.keysDir, section.id), deps.kv, [
      "herald",
      "sections",
      section.id,
      "keysCreatedAt",
    ]);
    accounts.set(section.id, { section, keys, followers: await deps.followersOf(section.id) });
  }
  return accounts;
}

export function sectionKeysDir(keysDir: string, id: string): string {
  return join(keysDir, "sections", id);
}

/** The section's handle: `@politik@news.example`. */
export function sectionHandle(origin: URL, id: string): string {
  return `@${id}@${origin.host}`;
}

/**
 * The section's profile, from the site's (the main account's resolved profile) and the
 * section: "Politik · Site", a bio naming its tags, the site's avatar and header, and links
 * to the section's page and feeds.
 */
export function sectionProfile(
  origin: URL,
  main: AccountProfile,
  section: SectionConfig,
  keysCreatedAt: Date,
): AccountProfile {
  const tags = section.tags.map((tag) => `#${tag.replace(/\s+/g, "")}`).join(", ");
  return {
    type: main.type,
    name: `${section.name} · ${main.name}`,
    summary: `${section.name} at ${main.name}: boosts the stories tagged ${tags}.`,
    ...(main.avatar == null ? {} : { avatar: main.avatar }),
    ...(main.header == null ? {} : { header: main.header }),
    url: absolute(origin, paths.section(section.id)),
    fields: [
      { name: "Website", value: absolute(origin, paths.section(section.id)) },
      { name: "RSS", value: absolute(origin, paths.sectionRss(section.id)) },
      { name: "Atom", value: absolute(origin, paths.sectionAtom(section.id)) },
      { name: "JSON Feed", value: absolute(origin, paths.sectionJson(section.id)) },
    ],
    discoverable: main.discoverable,
    indexable: main.indexable,
    published: keysCreatedAt,
  };
}

/** The section's actor document, as served. */
export async function sectionActor(
  ctx: Context<void>,
  main: AccountProfile,
  account: SectionAccount,
): Promise<Actor> {
  const { id } = account.section;
  const origin = new URL(ctx.canonicalOrigin);
  const profile = sectionProfile(origin, main, account.section, account.keys.createdAt);
  return toActor(ctx, id, id, profile, await ctx.getActorKeyPairs(id));
}

/** Each section's followers, by section id (none without sections). */
export function followersBySection(
  sections: SectionAccounts | undefined,
): ReadonlyMap<string, FollowerStore> {
  return new Map([...(sections?.values() ?? [])].map((s) => [s.section.id, s.followers]));
}
