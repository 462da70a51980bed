/**
 * Relay subscriptions in Fedify's key–value store, one entry per relay URL under
 * `["herald", "relays"]`: what each relay answered outlives restarts and is shared by every
 * process of one instance (`relays.ts` subscribes and handles the answers).
 */
import type { KvKey, KvStore } from "@fedify/fedify";
import type { RelayStyle } from "../config.ts";

/** Where relay subscriptions live in the key–value store; one entry per relay URL below it. */
export const RELAYS_KEY = ["herald", "relays"] as const;

export type RelayState = "pending" | "accepted" | "rejected";

/** A relay Herald asked to relay its posts, and what the relay answered. */
export interface RelaySubscription {
  /** The URL as configured in `RELAYS` (the key). */
  readonly url: URL;
  readonly style: RelayStyle;
  readonly state: RelayState;
  /** Our `Follow`'s id: kept until the relay answers, so a restart re-sends the same one. */
  readonly followId: URL;
  /** Where the `Follow`, the `Undo` and (Mastodon style) the posts go. */
  readonly inbox: URL;
  /** The relay's actor; unknown for a Mastodon-style relay given by its inbox until it answers. */
  readonly actor?: URL;
  /** When `state` last changed. */
  readonly since: Date;
}

/** Every relay subscription in the store, configured or not. */
export async function listRelays(kv: KvStore): Promise<RelaySubscription[]> {
  const subscriptions: RelaySubscription[] = [];
  for await (const entry of kv.list([...RELAYS_KEY])) {
    const subscription = decode(entry.value);
    if (subscription != null) subscriptions.push(subscription);
  }
  return subscriptions;
}

export async function getRelay(kv: KvStore, url: URL): Promise<RelaySubscription | undefined> {
  return decode(await kv.get(keyOf(url)));
}

export async function saveRelay(kv: KvStore, subscription: RelaySubscription): Promise<void> {
  await kv.set(keyOf(subscription.url), encode(subscription));
}

export async function deleteRelay(kv: KvStore, url: URL): Promise<void> {
  await kv.delete(keyOf(url));
}

function keyOf(url: URL): KvKey {
  return [...RELAYS_KEY, url.href];
}

/** The stored form: JSON, URLs and the date as strings. */
interface StoredRelay {
  readonly url: string;
  readonly style: RelayStyle;
  readonly state: RelayState;
  readonly followId: string;
  readonly inbox: string;
  readonly actor?: string;
  readonly since: string;
}

function encode(subscription: RelaySubscription): StoredRelay {
  return {
    url: subscription.url.href,
    style: subscription.style,
    state: subscription.state,
    followId: subscription.followId.href,
    inbox: subscription.inbox.href,
    ...(subscription.actor == null ? {} : { actor: subscription.actor.href }),
    since: subscription.since.toISOString(),
  };
}

function decode(value: unknown): RelaySubscription | undefined {
  if (typeof value !== "object" || value == null) return undefined;
  const stored = value as Partial<StoredRelay>;
  const url = URL.parse(stored.url ?? "");
  const followId = URL.parse(stored.followId ?? "");
  const inbox = URL.parse(stored.inbox ?? "");
  const actor = stored.actor == null ? undefined : URL.parse(stored.actor);
  const since = new Date(stored.since ?? Number.NaN);
  const style = stored.style === "litepub" ? "litepub" : "mastodon";
  const states: readonly RelayState[] = ["pending", "accepted", "rejected"];
  const state = states.find((s) => s === stored.state);
  if (url == null || followId == null || inbox == null || actor === null || state == null) {
    return undefined;
  }
  if (Number.isNaN(since.getTime())) return undefined;
  return { url, style, state, followId, inbox, ...(actor == null ? {} : { actor }), since };
}
