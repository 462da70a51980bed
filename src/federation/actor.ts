/**
 * The account itself: one actor, `@USERNAME@HOST`, described by `AccountProfile`.
 */
import type { ActorKeyPair, Context } from "@fedify/fedify";
import {
  type Actor,
  Application,
  Endpoints,
  Group,
  Image,
  Organization,
  Person,
  PropertyValue,
  Service,
} from "@fedify/vocab";
import { escapeHtml } from "../escape.ts";
import { toInstant } from "./temporal.ts";

export type ActorType = "Service" | "Person" | "Organization" | "Application" | "Group";

/** A profile field ("metadata"): a URL value becomes a `rel="me"` link Mastodon can verify. */
export interface ProfileField {
  readonly name: string;
  readonly value: string | URL;
}

export interface AccountProfile {
  readonly type: ActorType;
  /** Display name. */
  readonly name: string;
  /** The bio, plain text; blank lines separate paragraphs. */
  readonly summary?: string;
  readonly avatar?: URL;
  /** The header (banner) image. */
  readonly header?: URL;
  /** The home page. */
  readonly url: URL;
  readonly fields: readonly ProfileField[];
  /** Listed in directories and suggestions. */
  readonly discoverable: boolean;
  /** Posts may be found by full-text search. */
  readonly indexable: boolean;
  readonly published?: Date;
  /** Other accounts of the same publisher (`alsoKnownAs`): lets one of them move here. */
  readonly aliases?: readonly URL[];
  /** Where the account moved to (`movedTo`), after `npm run move`. */
  readonly movedTo?: URL;
}

const ACTOR_CLASSES = { Application, Group, Organization, Person, Service } as const;

/** The actor document. `keyPairs` are Fedify's, from `ctx.getActorKeyPairs()`. */
export function toActor(
  ctx: Context<void>,
  identifier: string,
  username: string,
  profile: AccountProfile,
  keyPairs: readonly ActorKeyPair[],
): Actor {
  const ActorClass = ACTOR_CLASSES[profile.type];
  return new ActorClass({
    id: ctx.getActorUri(identifier),
    preferredUsername: username,
    name: profile.name,
    summary: profile.summary == null ? null : textToHtml(profile.summary),
    url: profile.url,
    icon: profile.avatar == null ? null : toImage(profile.avatar),
    image: profile.header == null ? null : toImage(profile.header),
    attachments: profile.fields.map(toPropertyValue),
    inbox: ctx.getInboxUri(identifier),
    outbox: ctx.getOutboxUri(identifier),
    followers: ctx.getFollowersUri(identifier),
    following: ctx.getFollowingUri(identifier),
    featured: ctx.getFeaturedUri(identifier),
    endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
    // Mastodon verifies HTTP Signatures with the one RSA `publicKey`; Ed25519 keys are
    // published as `assertionMethod` multikeys (FEP-521a) for Object Integrity Proofs.
    // `keyPairs` come in the key pairs dispatcher's order: RSA first.
    publicKey: keyPairs[0]?.cryptographicKey ?? null,
    assertionMethods: keyPairs.map((pair) => pair.multikey),
    manuallyApprovesFollowers: false,
    discoverable: profile.discoverable,
    indexable: profile.indexable,
    published: profile.published == null ? null : toInstant(profile.published),
    aliases: [...(profile.aliases ?? [])],
    successor: profile.movedTo ?? null,
  });
}

export function toPropertyValue(field: ProfileField): PropertyValue {
  const value =
    field.value instanceof URL
      ? `<a href="${escapeHtml(field.value.href)}" rel="me nofollow noopener noreferrer" target="_blank">${escapeHtml(displayUrl(field.value))}</a>`
      : escapeHtml(field.value);
  return new PropertyValue({ name: field.name, value });
}

function toImage(url: URL): Image {
  return new Image({ url });
}

/** `https://news.example/feed.xml` → `news.example/feed.xml`, as Mastodon shows links. */
function displayUrl(url: URL): string {
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.host}${path}${url.search}`;
}

/** Plain text to HTML paragraphs: blank lines split paragraphs, single newlines break lines. */
export function textToHtml(text: string): string {
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((paragraph) => `<p>${escapeHtml(paragraph.trim()).replace(/\n/g, "<br>")}</p>`)
    .join("");
}
