/**
 * Replies, likes and boosts the articles received from the fediverse, kept in Fedify's KV store
 * (so every backend, SQLite, PostgreSQL or Redis, holds them, shared by all processes):
 *
 *   ["herald", "interactions", articleId, kind, key] → Interaction
 *   ["herald", "interaction-keys", activityOrNoteId] → [articleId, kind, key]
 *   ["herald", "interactions-changed"] → ISO time of the last change
 *
 * A reply's key is its note's id; a like's or boost's is its actor's, so an actor counts once.
 * The index lets an `Undo` or `Delete`, which names only the activity or the note, find it.
 */
import type { KvKey, KvStore } from "@fedify/fedify";
import {
  type HideRule,
  type Interaction,
  type InteractionKind,
  type InteractionReader,
  isHidden,
} from "../interactions.ts";

export type { Interaction, InteractionActor } from "../interactions.ts";

export interface InteractionStore extends InteractionReader {
  /**
   * Stores (or replaces, for an edited reply) one interaction with an article; false when
   * the article has as many as it may keep (a flood of them is not worth keeping), or when
   * its author is hidden (`hide`).
   */
  add(articleId: string, interaction: Interaction): Promise<boolean>;
  /**
   * Removes what `id` (a note or an activity) added, if `actorId` added it: only its author
   * may take it back. True when something was removed.
   */
  remove(id: string, actorId: string): Promise<boolean>;
  /** Removes everything an actor added (its account was deleted); how many. */
  removeActor(actorId: string): Promise<number>;
}

const ROOT = ["herald", "interactions"] as const;
const INDEX = ["herald", "interaction-keys"] as const;
const CHANGED: KvKey = ["herald", "interactions-changed"];

/** How long a process trusts its last read of the change time (other processes may write). */
const CHANGE_CHECK_MS = 1000;

const epoch = new Date(0);

type IndexEntry = [articleId: string, kind: InteractionKind, key: string];

/** How many interactions one article keeps at most; beyond, new ones are not stored. */
export const MAX_INTERACTIONS_PER_ARTICLE = 5000;

export interface InteractionStoreOptions {
  /** Default `MAX_INTERACTIONS_PER_ARTICLE`. */
  readonly maxPerArticle?: number;
  /** Whose interactions are neither stored nor listed (`HIDE_REACTIONS_FROM`). */
  readonly hide?: readonly HideRule[];
}

export function createInteractionStore(
  kv: KvStore,
  { maxPerArticle = MAX_INTERACTIONS_PER_ARTICLE, hide = [] }: InteractionStoreOptions = {},
): InteractionStore {
  let changed: { at: Date; readAt: number } | undefined;

  const entryKey = (articleId: string, kind: InteractionKind, key: string): KvKey => [
    ...ROOT,
    articleId,
    kind,
    key,
  ];
  const keyOf = (interaction: Interaction) =>
    interaction.kind === "reply" ? interaction.id : interaction.actor.id;

  const touch = async () => {
    const at = new Date();
    await kv.set(CHANGED, at.toISOString());
    changed = { at, readAt: performance.now() };
  };

  /** What is stored, hidden ones included (an account hidden later was stored before). */
  const stored = async (articleId: string): Promise<Interaction[]> => {
    const found: Interaction[] = [];
    for await (const { value } of kv.list([...ROOT, articleId])) found.push(value as Interaction);
    return found;
  };
  const list = async (articleId: string): Promise<Interaction[]> =>
    (await stored(articleId))
      .filter((interaction) => !isHidden(hide, interaction.actor))
      .sort((a, b) => a.published.localeCompare(b.published));

  const removeAt = async ([articleId, kind, key]: IndexEntry, id: string) => {
    await kv.delete(entryKey(articleId, kind, key));
    await kv.delete([...INDEX, id]);
  };

  return {
    async changedAt() {
      if (changed === undefined || performance.now() - changed.readAt > CHANGE_CHECK_MS) {
        const iso = await kv.get<string>(CHANGED);
        changed = { at: iso === undefined ? epoch : new Date(iso), readAt: performance.now() };
      }
      return changed.at;
    },

    list,

    // A first version for the pages' API: the table-backed stores read only the page.
    async listReplies(articleId, { limit, offset = 0 }) {
      return (await list(articleId))
        .filter((i) => i.kind === "reply")
        .sort((a, b) => b.published.localeCompare(a.published) || b.id.localeCompare(a.id))
        .slice(offset, offset + limit);
    },

    async counts(articleId) {
      const all = await list(articleId);
      const count = (kind: InteractionKind) => all.filter((i) => i.kind === kind).length;
      return { replies: count("reply"), likes: count("like"), boosts: count("boost") };
    },

    async add(articleId, interaction) {
      const key = keyOf(interaction);
      const entry: IndexEntry = [articleId, interaction.kind, key];
      // A second like by the same actor replaces the first: drop the first one's index entry.
      if (isHidden(hide, interaction.actor)) return false;
      const previous = await kv.get<Interaction>(entryKey(...entry));
      if (previous === undefined && (await stored(articleId)).length >= maxPerArticle) {
        return false;
      }
      if (previous !== undefined && previous.id !== interaction.id) {
        await kv.delete([...INDEX, previous.id]);
      }
      await kv.set(entryKey(...entry), interaction);
      await kv.set([...INDEX, interaction.id], entry);
      await touch();
      return true;
    },

    async remove(id, actorId) {
      const entry = await kv.get<IndexEntry>([...INDEX, id]);
      if (entry === undefined) return false;
      const interaction = await kv.get<Interaction>(entryKey(...entry));
      if (interaction !== undefined && interaction.actor.id !== actorId) return false;
      await removeAt(entry, id);
      await touch();
      return interaction !== undefined;
    },

    async removeActor(actorId) {
      const mine: { entry: IndexEntry; id: string }[] = [];
      for await (const { key, value } of kv.list([...ROOT])) {
        const interaction = value as Interaction;
        if (interaction.actor.id !== actorId) continue;
        const [, , articleId, kind, entryKey] = key as unknown as string[];
        mine.push({ entry: [articleId, kind, entryKey] as IndexEntry, id: interaction.id });
      }
      for (const { entry, id } of mine) await removeAt(entry, id);
      if (mine.length > 0) await touch();
      return mine.length;
    },
  };
}
