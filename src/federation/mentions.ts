/**
 * The author's own account, mentioned in the post (issue #18.1): an article whose front matter
 * names `author: { fediverse: "@jane@example.social" }` carries a `Mention` of Jane's actor and
 * is also delivered to her inbox, so she is notified when her story goes out.
 *
 * A handle is looked up once (WebFinger, then the actor for its inbox; both through the same
 * private-address check as every lookup) and kept in the KV store, so the `Create`, every
 * `Update` and the `Delete` of a story name the same actor. A handle that cannot be found is
 * logged and left out of this post; it is tried again at the next change.
 */
import { getDocumentLoader, type KvKey, type KvStore } from "@fedify/fedify";
import { Object as ASObject, isActor } from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import type { Article } from "../article.ts";
import { type ResolveOptions, resolveAccount } from "./migration.ts";

const logger = getLogger(["herald", "federation", "mentions"]);

/**
 * An author's actor: its id (the `Mention`'s `href`), the inbox that notifies them, and their
 * profile page (the mention's link in the post's text), if it gave one.
 */
export interface MentionedActor {
  readonly id: URL;
  readonly inboxId: URL;
  readonly url?: URL;
}

const keyOf = (handle: string): KvKey => ["herald", "mention", handle];

/** The actors of the authors of `articles`, by handle; the ones not found are left out. */
export async function resolveMentions(
  kv: KvStore,
  articles: readonly Article[],
  options: ResolveOptions = {},
): Promise<Map<string, MentionedActor>> {
  const handles = new Set(articles.flatMap((a) => a.authorFediverse ?? []));
  const found = new Map<string, MentionedActor>();
  for (const handle of handles) {
    const actor = (await cached(kv, handle)) ?? (await lookUp(kv, handle, options));
    if (actor !== undefined) found.set(handle, actor);
  }
  return found;
}

/** The actors of the authors of `articles` that were looked up before; no request is made. */
export async function knownMentions(
  kv: KvStore,
  articles: readonly Article[],
): Promise<Map<string, MentionedActor>> {
  const found = new Map<string, MentionedActor>();
  for (const handle of new Set(articles.flatMap((a) => a.authorFediverse ?? []))) {
    const actor = await cached(kv, handle);
    if (actor !== undefined) found.set(handle, actor);
  }
  return found;
}

async function cached(kv: KvStore, handle: string): Promise<MentionedActor | undefined> {
  const stored = await kv.get<{ id: string; inbox: string; url?: string }>(keyOf(handle));
  const id = URL.parse(stored?.id ?? "");
  const inboxId = URL.parse(stored?.inbox ?? "");
  const url = URL.parse(stored?.url ?? "");
  if (id === null || inboxId === null) return undefined;
  return { id, inboxId, ...(url === null ? {} : { url }) };
}

async function lookUp(
  kv: KvStore,
  handle: string,
  options: ResolveOptions,
): Promise<MentionedActor | undefined> {
  try {
    const id = await resolveAccount(handle, options);
    const loader = getDocumentLoader({ allowPrivateAddress: options.allowPrivateAddress ?? false });
    const { document } = await loader(id.href);
    const actor = await ASObject.fromJsonLd(document, { documentLoader: loader });
    if (!isActor(actor) || actor.inboxId === null) {
      throw new Error(`${id.href} is not an actor with an inbox.`);
    }
    const url = actor.url instanceof URL ? actor.url : (actor.url?.href ?? undefined);
    const profile = url?.protocol === "https:" || url?.protocol === "http:" ? url : undefined;
    await kv.set(keyOf(handle), {
      id: id.href,
      inbox: actor.inboxId.href,
      ...(profile === undefined ? {} : { url: profile.href }),
    });
    return { id, inboxId: actor.inboxId, ...(profile === undefined ? {} : { url: profile }) };
  } catch (error) {
    logger.warn("Not mentioning the author {handle}: {reason}", {
      handle,
      reason: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
