/**
 * The `InteractionStore` in the embedded SQLite database: one row per interaction, a counter
 * per article and kind, and a quota row per server and day, written together in one
 * `BEGIN IMMEDIATE` transaction (so several processes on one file keep the limits).
 * Files from before replies could be held get the `status` column at open (rows stay shown).
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import {
  type AddOutcome,
  changeClock,
  counterOf,
  dayOf,
  hideColumns,
  hideLists,
  type InteractionStore,
  type InteractionStoreOptions,
  isHidden,
  isOwnReply,
  limitsOf,
  ownerOf,
  planAdd,
  reviewOf,
  type Status,
  shownCounts,
  subdomainPattern,
} from "../../federation/interactions/store.ts";
import type { HeldReply, HideRule, Interaction } from "../../interactions.ts";
import { immediate, tuneConnection } from "./connection.ts";

export function openSqliteInteractionStore(
  db: DatabaseSync,
  options: InteractionStoreOptions = {},
): InteractionStore {
  tuneConnection(db);
  createTables(db);
  addStatusColumn(db);
  const hidden = hiddenWhere(options.hide ?? []);
  const reads = readStatements(db, hidden.sql);
  const store: Store = {
    db,
    options,
    hidden,
    reads,
    writes: writeStatements(db),
    limits: limitsOf(options),
    now: options.now ?? (() => new Date()),
    clock: changeClock(() => new Date(Number(reads.selectChanged.get()?.at ?? 0))),
    prunedDay: "",
  };
  return {
    ...readMethods(store),
    add: async (articleId, interaction) => add(store, articleId, interaction),
    ...reviewMethods(store),
  };
}

/** What the store's methods share: its statements, options and the change clock. */
interface Store {
  readonly db: DatabaseSync;
  readonly options: InteractionStoreOptions;
  readonly hidden: { readonly sql: string; readonly params: SQLInputValue[] };
  readonly reads: ReturnType<typeof readStatements>;
  readonly writes: ReturnType<typeof writeStatements>;
  readonly limits: ReturnType<typeof limitsOf>;
  readonly now: () => Date;
  readonly clock: ReturnType<typeof changeClock>;
  /** The last day old quota rows were pruned on. */
  prunedDay: string;
}

function createTables(db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS federation_interactions (
      id         TEXT PRIMARY KEY,
      actor_id   TEXT NOT NULL,
      article_id TEXT NOT NULL,
      kind       TEXT NOT NULL,
      published  TEXT NOT NULL,
      server     TEXT NOT NULL,
      handle     TEXT,
      body       TEXT NOT NULL,
      status     TEXT NOT NULL DEFAULT 'shown'
    ) STRICT;
    CREATE UNIQUE INDEX IF NOT EXISTS federation_interactions_one_reaction
      ON federation_interactions (article_id, kind, actor_id) WHERE kind <> 'reply';
    CREATE INDEX IF NOT EXISTS federation_interactions_by_article
      ON federation_interactions (article_id, kind, published, id);
    CREATE INDEX IF NOT EXISTS federation_interactions_by_actor
      ON federation_interactions (actor_id, article_id, kind);
    CREATE TABLE IF NOT EXISTS federation_interaction_counts (
      article_id TEXT NOT NULL,
      kind       TEXT NOT NULL,
      count      INTEGER NOT NULL,
      PRIMARY KEY (article_id, kind)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS federation_interaction_quota (
      server TEXT NOT NULL,
      day    TEXT NOT NULL,
      count  INTEGER NOT NULL,
      PRIMARY KEY (server, day)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS federation_interactions_changed (
      one INTEGER PRIMARY KEY CHECK (one = 1),
      at   INTEGER NOT NULL
    ) STRICT;
  `);
}

/** What the pages, feeds and the review queue read. */
function readStatements(db: DatabaseSync, hidden: string) {
  const shown = `NOT ${hidden}`;
  return {
    selectChanged: db.prepare("SELECT at FROM federation_interactions_changed"),
    selectAll: db.prepare(`
      SELECT body FROM federation_interactions
      WHERE article_id = ? AND status = 'shown' AND ${shown}
      ORDER BY published, id`),
    selectReplies: db.prepare(`
      SELECT body FROM federation_interactions
      WHERE article_id = ? AND kind = 'reply' AND status = 'shown' AND ${shown}
      ORDER BY published DESC, id DESC LIMIT ? OFFSET ?`),
    selectCounts: db.prepare(
      "SELECT kind, count AS n FROM federation_interaction_counts WHERE article_id = ?",
    ),
    selectHiddenCounts: db.prepare(`
      SELECT kind, count(*) AS n FROM federation_interactions
      WHERE article_id = ? AND status = 'shown' AND ${hidden} GROUP BY kind`),
    selectHeld: db.prepare(`
      SELECT article_id, body FROM federation_interactions WHERE status = 'held'
      ORDER BY published DESC, id DESC`),
    selectHeldOf: db.prepare(`
      SELECT article_id, body FROM federation_interactions WHERE status = 'held' AND article_id = ?
      ORDER BY published DESC, id DESC`),
    selectHeldCount: db.prepare(
      "SELECT coalesce(sum(count), 0) AS n FROM federation_interaction_counts WHERE kind = 'held'",
    ),
  };
}

/** What changes take, and what they read under the write lock. */
function writeStatements(db: DatabaseSync) {
  return {
    selectOwner: db.prepare(
      "SELECT actor_id, article_id, kind, status FROM federation_interactions WHERE id = ?",
    ),
    selectTrusted: db.prepare(`
      SELECT 1 AS n FROM federation_interactions
      WHERE actor_id = ? AND kind = 'reply' AND status = 'shown' LIMIT 1`),
    selectPrevious: db.prepare(
      "SELECT id FROM federation_interactions WHERE article_id = ? AND kind = ? AND actor_id = ?",
    ),
    selectTotal: db.prepare(
      "SELECT coalesce(sum(count), 0) AS n FROM federation_interaction_counts WHERE article_id = ?",
    ),
    selectByActor: db.prepare(`
      SELECT count(*) AS n FROM federation_interactions
      WHERE actor_id = ? AND article_id = ? AND kind = 'reply'`),
    selectQuota: db.prepare(
      "SELECT count AS n FROM federation_interaction_quota WHERE server = ? AND day = ?",
    ),
    selectByActorAll: db.prepare(
      "SELECT id, article_id, kind, status FROM federation_interactions WHERE actor_id = ?",
    ),
    insert: db.prepare(`
      INSERT INTO federation_interactions
        (id, actor_id, article_id, kind, published, server, handle, body, status)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    replace: db.prepare(`
      UPDATE federation_interactions SET published = ?, handle = ?, body = ? WHERE id = ?`),
    setStatus: db.prepare("UPDATE federation_interactions SET status = ? WHERE id = ?"),
    deleteOne: db.prepare("DELETE FROM federation_interactions WHERE id = ?"),
    bump: db.prepare(`
      INSERT INTO federation_interaction_counts (article_id, kind, count) VALUES (?, ?, ?)
      ON CONFLICT (article_id, kind) DO UPDATE SET count = count + excluded.count`),
    bumpQuota: db.prepare(`
      INSERT INTO federation_interaction_quota (server, day, count) VALUES (?, ?, 1)
      ON CONFLICT (server, day) DO UPDATE SET count = count + 1`),
    pruneQuota: db.prepare("DELETE FROM federation_interaction_quota WHERE day < ?"),
    touch: db.prepare(`
      INSERT INTO federation_interactions_changed (one, at) VALUES (1, ?)
      ON CONFLICT (one) DO UPDATE SET at = excluded.at`),
  };
}

const number = (row: Record<string, unknown> | undefined) => Number(row?.n ?? 0);

const interactionsOf = (rows: readonly Record<string, unknown>[]) =>
  rows.map(({ body }) => JSON.parse(body as string) as Interaction);

function readMethods({ reads, hidden, clock }: Store) {
  return {
    changedAt: () => clock.at(),
    list: async (articleId: string) =>
      interactionsOf(reads.selectAll.all(articleId, ...hidden.params)),
    listReplies: async (articleId: string, { limit, offset = 0 }: ReplyPage) =>
      interactionsOf(reads.selectReplies.all(articleId, ...hidden.params, limit, offset)),
    counts: async (articleId: string) =>
      shownCounts(
        reads.selectCounts.all(articleId),
        hidden.params.length > 0 ? reads.selectHiddenCounts.all(articleId, ...hidden.params) : [],
      ),
    held: async (articleId?: string) =>
      (articleId === undefined ? reads.selectHeld.all() : reads.selectHeldOf.all(articleId)).map(
        (row): HeldReply => ({
          articleId: String(row.article_id),
          reply: JSON.parse(row.body as string) as Interaction,
        }),
      ),
    countHeld: async () => number(reads.selectHeldCount.get()),
  };
}

type ReplyPage = { readonly limit: number; readonly offset?: number };

function changedNow(store: Store): void {
  const at = store.now();
  store.writes.touch.run(at.getTime());
  store.clock.wrote(at);
}

function statusOf(store: Store, interaction: Interaction): Status {
  const review = reviewOf(interaction, store.options);
  if (review !== "unless-trusted") return review;
  return store.writes.selectTrusted.get(interaction.actor.id) === undefined ? "held" : "shown";
}

async function add(store: Store, articleId: string, interaction: Interaction): Promise<AddOutcome> {
  const { db, writes: w, options } = store;
  if (isHidden(options.hide ?? [], interaction.actor)) return "hidden";
  const { kind, id, actor } = interaction;
  const { server, handle } = hideColumns(interaction);
  const day = dayOf(store.now());
  return immediate(db, () => {
    const owner = w.selectOwner.get(id);
    const plan = planAdd(
      articleId,
      interaction,
      {
        owner: owner === undefined ? undefined : ownerOf(owner),
        previous:
          kind === "reply"
            ? undefined
            : (w.selectPrevious.get(articleId, kind, actor.id)?.id as string | undefined),
        total: number(w.selectTotal.get(articleId)),
        byActor: kind === "reply" ? number(w.selectByActor.get(actor.id, articleId)) : 0,
        byServerToday: kind === "reply" ? number(w.selectQuota.get(server, day)) : 0,
      },
      store.limits,
      options.replies,
    );
    if (plan.outcome !== "stored") return plan.outcome;
    const body = JSON.stringify(interaction);
    // A redelivery keeps its status; anything new is reviewed.
    let status: Status = owner?.status === "held" ? "held" : "shown";
    if (plan.replace === "same-id") {
      w.replace.run(interaction.published, handle, body, id);
    } else {
      status = statusOf(store, interaction);
      if (plan.replace === "previous") w.deleteOne.run(plan.previous);
      w.insert.run(
        id,
        actor.id,
        articleId,
        kind,
        interaction.published,
        server,
        handle,
        body,
        status,
      );
      if (plan.replace === "none") {
        w.bump.run(articleId, counterOf(kind, status), 1);
        if (kind === "reply") {
          if (store.prunedDay !== day) w.pruneQuota.run(day);
          store.prunedDay = day;
          w.bumpQuota.run(server, day);
        }
      }
    }
    changedNow(store);
    return status === "held" ? "held" : "stored";
  });
}

/** Edits and removals by their authors, and the editors' review of held replies. */
function reviewMethods(store: Store) {
  const { db, writes: w } = store;
  /** Drops a row and its count; `status` says which counter (`held` or the kind's) held it. */
  const drop = (id: string, articleId: string, kind: string, status: unknown) => {
    w.deleteOne.run(id);
    w.bump.run(articleId, counterOf(kind, status), -1);
  };
  return {
    edit: async (articleId: string, reply: Interaction) =>
      immediate(db, () => {
        const owner = w.selectOwner.get(reply.id);
        if (owner === undefined || !isOwnReply(ownerOf(owner), articleId, reply)) return false;
        w.replace.run(reply.published, hideColumns(reply).handle, JSON.stringify(reply), reply.id);
        // New text is reviewed again, unless its author is trusted (this reply may be why).
        if (owner.status !== "held" && statusOf(store, reply) === "held") {
          w.setStatus.run("held", reply.id);
          w.bump.run(articleId, "reply", -1);
          w.bump.run(articleId, "held", 1);
        }
        changedNow(store);
        return true;
      }),
    remove: async (id: string, actorId: string) =>
      immediate(db, () => {
        const owner = w.selectOwner.get(id);
        if (owner === undefined || owner.actor_id !== actorId) return false;
        drop(id, owner.article_id as string, owner.kind as string, owner.status);
        changedNow(store);
        return true;
      }),
    removeActor: async (actorId: string) =>
      immediate(db, () => {
        const rows = w.selectByActorAll.all(actorId);
        for (const row of rows) {
          drop(row.id as string, row.article_id as string, row.kind as string, row.status);
        }
        if (rows.length > 0) changedNow(store);
        return rows.length;
      }),
    approve: async (id: string) =>
      immediate(db, () => {
        const owner = w.selectOwner.get(id);
        if (owner?.status !== "held") return false;
        w.setStatus.run("shown", id);
        w.bump.run(owner.article_id as string, "held", -1);
        w.bump.run(owner.article_id as string, "reply", 1);
        changedNow(store);
        return true;
      }),
    reject: async (id: string) =>
      immediate(db, () => {
        const owner = w.selectOwner.get(id);
        if (owner?.kind !== "reply") return false;
        drop(id, owner.article_id as string, "reply", owner.status);
        changedNow(store);
        return true;
      }),
  };
}

/**
 * Gives a table from before replies could be held its `status` column (every row shown) and
 * the index of the review queue. Checked again under the write lock: processes start at once.
 */
function addStatusColumn(db: DatabaseSync): void {
  const hasStatus = () =>
    db
      .prepare("SELECT 1 FROM pragma_table_info('federation_interactions') WHERE name = 'status'")
      .get() !== undefined;
  if (!hasStatus()) {
    immediate(db, () => {
      if (hasStatus()) return;
      db.exec(
        "ALTER TABLE federation_interactions ADD COLUMN status TEXT NOT NULL DEFAULT 'shown'",
      );
    });
  }
  db.exec(`
    CREATE INDEX IF NOT EXISTS federation_interactions_held
      ON federation_interactions (published, id) WHERE status = 'held'`);
}

/** The hide rules as an SQL condition on a row, with its parameters (`0` when none). */
function hiddenWhere(rules: readonly HideRule[]): { sql: string; params: SQLInputValue[] } {
  const { actors, handles, domains } = hideLists(rules);
  const parts: string[] = [];
  const params: string[] = [];
  const marks = (values: readonly string[]) => values.map(() => "?").join(", ");
  if (actors.length > 0) {
    parts.push(`actor_id IN (${marks(actors)})`);
    params.push(...actors);
  }
  if (handles.length > 0) {
    parts.push(`handle IN (${marks(handles)})`);
    params.push(...handles);
  }
  for (const domain of domains) {
    parts.push(`server = ? OR server LIKE ? ESCAPE '\\'`);
    params.push(domain, subdomainPattern(domain));
  }
  return parts.length === 0 ? { sql: "0", params } : { sql: `(${parts.join(" OR ")})`, params };
}
