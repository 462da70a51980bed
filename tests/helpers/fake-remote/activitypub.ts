/**
 * The ActivityPub and WebFinger documents of the fake remote, shaped like Mastodon's serializers
 * (`ActivityPub::ActorSerializer`, `WebfingerSerializer`, `ActivityPub::FollowSerializer`,
 * `UndoFollowSerializer`, `DeleteActorSerializer`), and the small JSON helpers Mastodon uses to
 * read what others send (`JsonLdHelper`: `value_or_id`, `supported_context?`,
 * `valid_activitypub_content_type?`).
 */

export const AS_CONTEXT = "https://www.w3.org/ns/activitystreams";
export const SECURITY_CONTEXT = "https://w3id.org/security/v1";
export const PUBLIC_COLLECTION = "https://www.w3.org/ns/activitystreams#Public";
/** The Accept header of Mastodon's ActivityPub fetches (`JsonLdHelper#build_request`). */
export const ACTIVITY_ACCEPT = "application/activity+json, application/ld+json";
export const ACTIVITY_CONTENT_TYPE = "application/activity+json";
/** `ActivityPub::FetchRemoteActorService::SUPPORTED_TYPES`. */
const ACTOR_TYPES = ["Application", "Group", "Organization", "Person", "Service"];

/** A JSON object as received or sent. */
export type JsonObject = { readonly [key: string]: unknown };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

/** `value_or_id`: a link as a string, or the `id` of an embedded object. */
export function idOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  return isObject(value) && typeof value.id === "string" ? value.id : undefined;
}

export function isActor(json: JsonObject): boolean {
  return asArray(json.type).some((type) => typeof type === "string" && ACTOR_TYPES.includes(type));
}

/** `supported_context?`: the ActivityStreams context, alone or in the list. */
export function hasContext(json: JsonObject): boolean {
  return asArray(json["@context"]).includes(AS_CONTEXT);
}

/** `valid_activitypub_content_type?`: activity+json, or ld+json with the ActivityStreams profile. */
export function isActivityContentType(value: string): boolean {
  const [type = "", ...params] = value.split(";").map((part) => part.trim());
  if (type.toLowerCase() === ACTIVITY_CONTENT_TYPE) return true;
  if (type.toLowerCase() !== "application/ld+json") return false;
  return params.some(
    (param) =>
      param.startsWith('profile="') && param.slice(9, -1).split(/\s+/).includes(AS_CONTEXT),
  );
}

export function parseJsonObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Where a hosted user's documents live. */
export function actorUrlOf(origin: URL, user: string): URL {
  return new URL(`/users/${user}`, origin);
}

/**
 * A `Person` like Mastodon's, with the security context and `publicKey` `…#main-key`;
 * without `endpoints.sharedInbox` when `sharedInbox` is false (small servers, other software).
 */
export function actorDocument(
  origin: URL,
  user: string,
  publicKeyPem: string,
  sharedInbox = true,
  alsoKnownAs: readonly string[] = [],
): JsonObject {
  const id = actorUrlOf(origin, user).href;
  return {
    "@context": [AS_CONTEXT, SECURITY_CONTEXT],
    id,
    type: "Person",
    preferredUsername: user,
    name: user,
    summary: `<p>Fake Mastodon-like account ${user}@${origin.host} for tests.</p>`,
    url: new URL(`/@${user}`, origin).href,
    inbox: `${id}/inbox`,
    outbox: `${id}/outbox`,
    followers: `${id}/followers`,
    following: `${id}/following`,
    manuallyApprovesFollowers: false,
    discoverable: true,
    ...(sharedInbox ? { endpoints: { sharedInbox: new URL("/inbox", origin).href } } : {}),
    publicKey: { id: `${id}#main-key`, owner: id, publicKeyPem },
    ...(alsoKnownAs.length > 0 ? { alsoKnownAs: [...alsoKnownAs] } : {}),
  };
}

/** The JRD for `acct:user@host`, as `WebfingerSerializer` makes it (minus avatar and subscribe). */
export function webfingerJrd(origin: URL, user: string): JsonObject {
  const actor = actorUrlOf(origin, user).href;
  const profile = new URL(`/@${user}`, origin).href;
  return {
    subject: `acct:${user}@${origin.host}`,
    aliases: [profile, actor],
    links: [
      { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: profile },
      { rel: "self", type: ACTIVITY_CONTENT_TYPE, href: actor },
    ],
  };
}

/**
 * The hosted user named by a WebFinger `resource`: `acct:user@host` with this host, or the actor
 * URL (Mastodon accepts both).
 */
export function webfingerUser(origin: URL, resource: string): string | undefined {
  const acct = /^acct:([a-z0-9_]+)@(.+)$/.exec(resource);
  if (acct !== null) return acct[2] === origin.host ? acct[1] : undefined;
  try {
    const url = new URL(resource);
    if (url.origin !== origin.origin) return undefined;
    return /^\/users\/([a-z0-9_]+)$/.exec(url.pathname)?.[1];
  } catch {
    return undefined;
  }
}

export function emptyCollection(id: string): JsonObject {
  return {
    "@context": AS_CONTEXT,
    id,
    type: "OrderedCollection",
    totalItems: 0,
    orderedItems: [],
  };
}

/** `ActivityPub::FollowSerializer`. */
export function followActivity(id: URL, actor: URL, target: URL): JsonObject {
  return {
    "@context": AS_CONTEXT,
    id: id.href,
    type: "Follow",
    actor: actor.href,
    object: target.href,
  };
}

/** `UndoFollowSerializer`: the Follow embedded, id `followId/undo`. */
export function undoFollowActivity(followId: URL, actor: URL, target: URL): JsonObject {
  const { "@context": _context, ...follow } = followActivity(followId, actor, target);
  return {
    "@context": AS_CONTEXT,
    id: `${followId.href}/undo`,
    type: "Undo",
    actor: actor.href,
    object: follow,
  };
}

/** `DeleteActorSerializer`: id `actor#delete`, to Public (without Mastodon's LD signature). */
export function deleteActorActivity(actor: URL): JsonObject {
  return {
    "@context": [AS_CONTEXT, SECURITY_CONTEXT],
    id: `${actor.href}#delete`,
    type: "Delete",
    actor: actor.href,
    to: [PUBLIC_COLLECTION],
    object: actor.href,
  };
}

/** FEP-044f's terms, as Mastodon 4.5's quote serializers name them. */
const QUOTE_CONTEXT = {
  QuoteRequest: "https://w3id.org/fep/044f#QuoteRequest",
  quote: { "@id": "https://w3id.org/fep/044f#quote", "@type": "@id" },
};

/**
 * `ActivityPub::QuoteRequestSerializer`: `object` the quoted post, `instrument` the quoting
 * post (a public `Note` by `actor` whose `quote` is the quoted post), embedded.
 */
export function quoteRequestActivity(id: URL, actor: URL, target: URL, quotePost: URL): JsonObject {
  return {
    "@context": [AS_CONTEXT, QUOTE_CONTEXT],
    id: id.href,
    type: "QuoteRequest",
    actor: actor.href,
    object: target.href,
    instrument: {
      id: quotePost.href,
      type: "Note",
      attributedTo: actor.href,
      to: [PUBLIC_COLLECTION],
      content: "<p>Worth reading.</p>",
      quote: target.href,
      url: quotePost.href,
    },
  };
}
