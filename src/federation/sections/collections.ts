/**
 * A section's collections: its outbox lists its boosts of the stories carrying its tags
 * (newest first), featured the pinned ones among them or else the latest few, and its own
 * followers.
 */
import type { Context, KvStore, PageItems } from "@fedify/fedify";
import type { Announce } from "@fedify/vocab";
import type { Article } from "../../article.ts";
import { sectionStories } from "../../section-stories.ts";
import type { PublishedArticles } from "../articles.ts";
import {
  type AccountCollections,
  FEATURED_FALLBACK,
  type ObjectContextFor,
  PAGE_SIZE,
} from "../collections.ts";
import { type Post, toPost } from "../objects.ts";
import type { SectionAccount } from "./accounts.ts";
import { announceId, sectionContextOf, toAnnounce } from "./announces.ts";
import { readShares } from "./shares.ts";

export interface SectionCollectionsDeps {
  readonly store: PublishedArticles;
  readonly kv: KvStore;
  /** The main account's object context: the boosted posts are its. */
  readonly objectContext: ObjectContextFor;
}

export function sectionCollections(
  account: SectionAccount,
  deps: SectionCollectionsDeps,
): AccountCollections {
  const stories = (limit?: number) => sectionStories(deps.store, account.section.tags, limit);
  return {
    followers: account.followers,
    outbox: async (ctx, cursor) => {
      const offset = cursor != null && /^\d{1,9}$/.test(cursor) ? Number(cursor) : 0;
      // The stories up to this page and one more (is there a next page?), not the whole section.
      const all = await stories(offset + PAGE_SIZE + 1);
      const page = all.slice(offset, offset + PAGE_SIZE);
      const items: Announce[] = [];
      for (const article of page) items.push(await boost(ctx, account, article, deps));
      return {
        items,
        nextCursor: all.length > offset + PAGE_SIZE ? String(offset + PAGE_SIZE) : null,
        prevCursor: offset > 0 ? String(Math.max(0, offset - PAGE_SIZE)) : null,
      };
    },
    countOutbox: async () => (await stories()).length,
    featured: async (ctx): Promise<PageItems<Post>> => {
      const all = await stories();
      const pinned = all.filter((article) => article.pinned);
      const featured = pinned.length > 0 ? pinned : all.slice(0, FEATURED_FALLBACK);
      const objects = await deps.objectContext(ctx, featured);
      return { items: featured.map((article) => toPost(article, objects)) };
    },
  };
}

/** The section's boost of `article`, with the id it was sent with (stories it never boosted: seq 0). */
async function boost(
  ctx: Context<void>,
  account: SectionAccount,
  article: Article,
  deps: SectionCollectionsDeps,
): Promise<Announce> {
  const section = sectionContextOf(ctx, account.section.id);
  const sent = (await readShares(deps.kv, article.id))?.announces[account.section.id];
  const id = sent === undefined ? announceId(section, article.id, 0) : new URL(sent);
  return toAnnounce(id, article, section, await deps.objectContext(ctx, []), article.published);
}
