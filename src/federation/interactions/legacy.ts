/**
 * Until December 2026 the interactions lived in Fedify's KV store (each add re-read them all);
 * they now have tables of their own (`backends/sqlite/interactions.ts`, `backends/postgres/interactions.ts`).
 * At start, whatever is still in the KV store moves over, entry by entry, so a crash half
 * way loses nothing and the next start goes on. Remove once no instance predates the move.
 */
import type { KvKey, KvStore } from "@fedify/fedify";
import type { Interaction } from "../../interactions.ts";
import type { InteractionStore } from "./store.ts";

/** The old layout: `[…ENTRIES, articleId, kind, key] → Interaction`, plus an index and a time. */
const ENTRIES: KvKey = ["herald", "interactions"];
const INDEX: KvKey = ["herald", "interaction-keys"];
const CHANGED: KvKey = ["herald", "interactions-changed"];

/**
 * Moves the interactions kept in `kv` into `store`, which should take them all (open it
 * without limits); answers how many moved.
 */
export async function importKvInteractions(kv: KvStore, store: InteractionStore): Promise<number> {
  const found: { key: KvKey; articleId: string; interaction: Interaction }[] = [];
  for await (const { key, value } of kv.list(ENTRIES)) {
    const articleId = key[ENTRIES.length];
    if (typeof articleId === "string")
      found.push({ key, articleId, interaction: value as Interaction });
  }
  for (const { key, articleId, interaction } of found) {
    await store.add(articleId, interaction);
    await kv.delete(key);
  }
  if (found.length > 0) {
    const index: KvKey[] = [];
    for await (const { key } of kv.list(INDEX)) index.push(key);
    for (const key of index) await kv.delete(key);
    await kv.delete(CHANGED);
  }
  return found.length;
}
