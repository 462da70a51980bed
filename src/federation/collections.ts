/**
 * The accounts' collections: followers (paged, counted), outbox (paged, newest first, one
 * `Create` per published article) and featured (pinned articles, or else the latest few).
 */
import type { Context, Federation, PageItems } from "@fedify/fedify";
import type { Activity, Create, Recipient } from "@fedify/vocab";
import type { Article } from "../article.ts";
import type { PublishedArticles } from "./articles.ts";
import type { federationPaths } from "./federation.ts";
import type { FollowerStore } from "./followers.ts";
import { type ObjectContext, type Post, toCreate, toPost } from "./objects.ts";

export const PAGE_SIZE = 20;
/** How many of the latest articles are featured when none is pinned. */
export const FEATURED_FALLBACK = 3;

/**
 * A page of followers, or with `cursor` null all of them: with `filter` (FEP-8fcf `base-url`),
 * only those on that server, for their server's synchronization; without, for a delivery to
 * "followers" (Fedify's `getFollowers()`; `followersFirstCursor()` pages every request).
 *
 * A delivery gets one recipient per delivery inbox (the shared one where there is one: every
 * delivery of Herald's to followers prefers it), not one per follower: Fedify only groups them
 * by inbox again, and 100,000 followers on 10,000 servers cost 100,000 recipients, their ids
 * in its sets, and a fan-out message naming them all, parsed again for each slice (issue #17).
 * The followers behind each inbox are read from the store again as its slice of the fan-out is
 * handed out (`followers-behind.ts`), for what becomes of them should the inbox be gone (and
 * the FEP-8fcf digest, where Fedify makes it): deliveries that synchronize the collection
 * are always fanned out (`fanout: "force"` in the publishers).
 */
export async function dispatchFollowers(
  followers: FollowerStore,
  cursor: string | null,
  filter?: URL,
): Promise<PageItems<Recipient>> {
  if (cursor == null) {
    if (filter == null) {
      const inboxes = await followers.deliveryInboxes();
      return { items: inboxes.map((one) => recipient(one.actorId, one)) };
    }
    // One server's followers, as the collection lists them: the store keeps only those under
    // `filter` (`actorPrefix`).
    const groups = await followers.inboxes({ actorPrefix: filter.href });
    return { items: groups.flatMap((group) => group.actorIds.map((id) => recipient(id, group))) };
  }
  const page = await followers.list({ cursor, limit: PAGE_SIZE });
  return {
    items: page.items.map((follower) => ({
      id: follower.id,
      inboxId: follower.inbox,
      endpoints: follower.sharedInbox == null ? null : { sharedInbox: follower.sharedInbox },
    })),
    nextCursor: page.nextCursor ?? null,
  };
}

/** Follower `actorId`, delivered to at `target`'s inbox. */
function recipient(
  actorId: string,
  target: { readonly inbox: URL; readonly sharedInbox: boolean },
): Recipient {
  return {
    id: new URL(actorId),
    inboxId: target.inbox,
    endpoints: target.sharedInbox ? { sharedInbox: target.inbox } : null,
  };
}

/**
 * The first followers page, or none (so Fedify answers with the whole collection) when the
 * request is a FEP-8fcf synchronization (`?base-url=`): Mastodon reads only the first page
 * and unfollows whoever it does not find there.
 */
export function followersFirstCursor(ctx: Context<void>): string | null {
  if ("request" in ctx && ctx.request instanceof Request) {
    // Only a `base-url` Fedify can read comes with a filter (else the request is no
    // synchronization, and all followers at once is what a delivery asks for).
    const baseUrl = new URL(ctx.request.url).searchParams.get("base-url");
    if (baseUrl !== null && URL.canParse(baseUrl)) return null;
  }
  return "0";
}

/** The context of the objects of `articles`: with their authors' accounts, to mention them. */
export type ObjectContextFor = (
  ctx: Context<void>,
  articles: readonly Article[],
) => Promise<ObjectContext>;

/** A page of the outbox: newest first, one `Create` per published article. */
export async function dispatchOutbox(
  store: PublishedArticles,
  objects: (articles: readonly Article[]) => Promise<ObjectContext>,
  cursor: string | null,
): Promise<PageItems<Create>> {
  const offset = parseOffset(cursor);
  // The store lists without an offset; a news site's article count keeps this cheap.
  const articles = await store.listPublished({ limit: offset + PAGE_SIZE + 1 });
  const page = articles.slice(offset, offset + PAGE_SIZE);
  const ctx = await objects(page);
  return {
    items: page.map((article) => toCreate(article, ctx)),
    nextCursor: articles.length > offset + PAGE_SIZE ? String(offset + PAGE_SIZE) : null,
    prevCursor: offset > 0 ? String(Math.max(0, offset - PAGE_SIZE)) : null,
  };
}

/** The featured ("pinned") posts: articles marked `pinned`, or else the latest few. */
export async function dispatchFeatured(
  store: PublishedArticles,
  objects: (articles: readonly Article[]) => Promise<ObjectContext>,
): Promise<PageItems<Post>> {
  const published = await store.listPublished();
  const pinned = published.filter((article) => article.pinned);
  const featured = pinned.length > 0 ? pinned : published.slice(0, FEATURED_FALLBACK);
  const ctx = await objects(featured);
  return { items: featured.map((article) => toPost(article, ctx)) };
}

function parseOffset(cursor: string | null): number {
  return cursor != null && /^\d{1,9}$/.test(cursor) ? Number(cursor) : 0;
}

/** What one account (the main one, or a section) lists in its collections. */
export interface AccountCollections {
  readonly followers: FollowerStore;
  outbox(ctx: Context<void>, cursor: string | null): Promise<PageItems<Activity>>;
  countOutbox(): Promise<number>;
  featured(ctx: Context<void>): Promise<PageItems<Post>>;
}

/** The main account's collections: every published article. */
export function mainCollections(
  store: PublishedArticles,
  followers: FollowerStore,
  objectContext: ObjectContextFor,
): AccountCollections {
  return {
    followers,
    outbox: (ctx, cursor) =>
      dispatchOutbox(store, (articles) => objectContext(ctx, articles), cursor),
    countOutbox: () => store.countPublished(),
    featured: (ctx) => dispatchFeatured(store, (articles) => objectContext(ctx, articles)),
  };
}

export interface CollectionsDeps {
  /** The collections of the account `identifier` names; every other answers 404. */
  readonly accountOf: (identifier: string) => AccountCollections | undefined;
}

/** Registers the accounts' outbox, followers, following and featured collections. */
export function registerCollections(
  federation: Federation<void>,
  paths: Pick<typeof federationPaths, "outbox" | "followers" | "following" | "featured">,
  deps: CollectionsDeps,
): void {
  const { accountOf } = deps;
  const outbox = federation.setOutboxDispatcher(
    paths.outbox,
    (ctx, identifier, cursor) => accountOf(identifier)?.outbox(ctx, cursor) ?? null,
  );
  outbox.setFirstCursor(() => "0");
  outbox.setCounter((_ctx, identifier) => accountOf(identifier)?.countOutbox() ?? null);

  const followersCollection = federation.setFollowersDispatcher(
    paths.followers,
    (_ctx, identifier, cursor, filter) => {
      const account = accountOf(identifier);
      return account ? dispatchFollowers(account.followers, cursor, filter) : null;
    },
  );
  followersCollection.setFirstCursor(followersFirstCursor);
  followersCollection.setCounter(
    (_ctx, identifier) => accountOf(identifier)?.followers.count() ?? null,
  );

  const following = federation.setFollowingDispatcher(paths.following, (_ctx, id) =>
    accountOf(id) ? { items: [] } : null,
  );
  following.setCounter((_ctx, identifier) => (accountOf(identifier) ? 0 : null));

  federation.setFeaturedDispatcher(
    paths.featured,
    (ctx, identifier) => accountOf(identifier)?.featured(ctx) ?? null,
  );
}
