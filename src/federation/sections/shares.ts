/**
 * What the sections have shared, per article, in the KV store: whether the story went out as
 * news at all, and each section's boost of it (the `Announce` id, so that an `Undo` names the
 * very boost). Written after the activities are queued: a crash in between re-offers the event,
 * which yields the same ids (`announceId()`), so receivers drop the repeat.
 */
import type { KvKey, KvStore } from "@fedify/fedify";

export interface Shares {
  /** The created article was pushed to followers (not an import, not backdated). */
  readonly pushed: boolean;
  /** Section id → the id of its `Announce` of the article. */
  readonly announces: Readonly<Record<string, string>>;
}

function sharesKey(articleId: string): KvKey {
  return ["herald", "sections", "shares", articleId];
}

export async function readShares(kv: KvStore, articleId: string): Promise<Shares | undefined> {
  return (await kv.get<Shares>(sharesKey(articleId))) ?? undefined;
}

export async function writeShares(
  kv: KvStore,
  articleId: string,
  shares: Shares | undefined,
): Promise<void> {
  if (shares === undefined) await kv.delete(sharesKey(articleId));
  else await kv.set(sharesKey(articleId), shares);
}
