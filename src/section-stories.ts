/** The stories of a section (`SECTIONS`): those carrying any of its tags. */
import type { Article } from "./article.ts";
import { type ArticleStore, tagKey } from "./store/store.ts";

/** The published stories carrying any of `tags`, newest first. */
export async function sectionStories(
  store: Pick<ArticleStore, "listPublished">,
  tags: readonly string[],
  limit?: number,
): Promise<Article[]> {
  const byId = new Map<string, Article>();
  for (const tag of new Set(tags.map(tagKey))) {
    const options = limit === undefined ? { tag } : { tag, limit };
    for (const article of await store.listPublished(options)) byId.set(article.id, article);
  }
  const sorted = [...byId.values()].sort(
    (a, b) => b.published.getTime() - a.published.getTime() || a.id.localeCompare(b.id),
  );
  return limit === undefined ? sorted : sorted.slice(0, limit);
}
