/**
 * The `InteractionStore` in the embedded SQLite database: one row per interaction, a counter
 * per article and kind, and a quota row per server and day, written together in one
 * `BEGIN IMMEDIATE` transaction (so several processes on one file keep the limits).
 * Files from before replies could be held get the `status` column at open (rows stay shown).
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import {
  type AddOutcome,
  CHANGE_CHECK_MS,
  counterOf,
  countsOf,
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
  subdomainPattern,
} from "../../federation/interactions/store.ts";
import type { HeldReply, HideRule, Interaction, InteractionKind } from "../../interactions.ts";
import { immediate, tuneConnection } from "./connection.ts";

export function openSqliteInteractionStore(
  db: DatabaseSync,
  options: InteractionStoreOptions = {},
): InteractionStore {
  tuneConnection(db);
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
  addStatusColumn(db);
  const limits = limitsOf(options);
  const now = options.now ?? (() => new Date());
  const hidden = hiddenWhere(options.hide ?? []);
  const shown = `NOT ${hidden.sql}`;

  const selectOwner = db.prepare(
    "SELECT actor_id, article_id, kind, status FROM federation_interactions WHERE id = ?",
  );
  const selectTrusted = db.prepare(`
    SELECT 1 AS n FROM federation_interactions
    WHERE actor_id = ? AND kind = 'reply' AND status = 'shown' LIMIT 1`);
  const selectPrevious = db.prepare(
    "SELECT id FROM federation_interactions WHERE article_id = ? AND kind = ? AND actor_id = ?",
  );
  const selectTotal = db.prepare(
    "SELECT coalesce(sum(count), 0) AS n FROM federation_interaction_counts WHERE article_id = ?",
  );
  const selectByActor = db.prepare(`
    SELECT count(*) AS n FROM federation_interactions
    WHERE actor_id = ? AND article_id = ? AND kind = 'reply'`);
  const selectQuota = db.prepare(
    "SELECT count AS n FROM federation_interaction_quota WHERE server = ? AND day = ?",
  );
  const insert = db.prepare(`
    INSERT INTO federation_interactions
      (id, actor_id, article_id, kind, published, server, handle, body, status)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const replace = db.prepare(`
    UPDATE federation_interactions SET published = ?, handle = ?, body = ? WHERE id = ?`);
  const setStatus = db.prepare("UPDATE federation_interactions SET status = ? WHERE id = ?");
  const selectHeld = db.prepare(`
    SELECT article_id, body FROM federation_interactions WHERE status = 'held'
    ORDER BY published DESC, id DESC`);
  const selectHeldOf = db.prepare(`
    SELECT article_id, body FROM federation_interactions WHERE status = 'held' AND article_id = ?
    ORDER BY published DESC, id DESC`);
  const selectHeldCount = db.prepare(
    "SELECT coalesce(sum(count), 0) AS n FROM federation_interaction_counts WHERE kind = 'held'",
  );
  const deleteOne = db.prepare("DELETE FROM federation_interactions WHERE id = ?");
  const selectByActorAll = db.prepare(
    "SELECT id, article_id, kind, status FROM federation_interactions WHERE actor_id = ?",
  );
  const bump = db.prepare(`
    INSERT INTO federation_interaction_counts (article_id, kind, count) VALUES (?, ?, ?)
    ON CONFLICT (article_id, kind) DO UPDATE SET count = count + excluded.count`);
  const bumpQuota = db.prepare(`
    INSERT INTO federation_interaction_quota (server, day, count) VALUES (?, ?, 1)
    ON CONFLICT (server, day) DO UPDATE SET count = count + 1`);
  const pruneQuota = db.prepare("DELETE FROM federation_interaction_quota WHERE day < ?");
  const touch = db.prepare(`
    INSERT INTO federation_interactions_changed (one, at) VALUES (1, ?)
    ON CONFLICT (one) DO UPDATE SET at = excluded.at`);
  const selectChanged = db.prepare("SELECT at FROM federation_interactions_changed");
  const selectAll = db.prepare(`
    SELECT body FROM federation_interactions
    WHERE article_id = ? AND status = 'shown' AND ${shown}
    ORDER BY published, id`);
  const selectReplies = db.prepare(`
    SELECT body FROM federation_interactions
    WHERE article_id = ? AND kind = 'reply' AND status = 'shown' AND ${shown}
    ORDER BY published DESC, id DESC LIMIT ? OFFSET ?`);
  const selectCounts = db.prepare(
    "SELECT kind, count AS n FROM federation_interaction_counts WHERE article_id = ?",
  );
  const selectHiddenCounts = db.prepare(`
    SELECT kind, count(*) AS n FROM federation_interactions
    WHERE article_id = ? AND status = 'shown' AND ${hidden.sql} GROUP BY kind`);

  let changed: { at: Date; readAt: number } | undefined;
  let prunedDay = "";
  const changedNow = () => {
    const at = now();
    touch.run(at.getTime());
    changed = { at, readAt: performance.now() };
  };
  const number = (row: Record<string, unknown> | undefined) => Number(row?.n ?? 0);
  const parse = (rows: readonly Record<string, unknown>[]): HeldReply[] =>
    rows.map((row) => ({
      articleId: String(row.article_id),
      reply: JSON.parse(row.body as string) as Interaction,
    }));
  const statusOf = (interaction: Interaction): Status => {
    const review = reviewOf(interaction, options);
    if (review !== "unless-trusted") return review;
    return selectTrusted.get(interaction.actor.id) === undefined ? "held" : "shown";
  };

  return {
    async changedAt() {
      if (changed === undefined || performance.now() - changed.readAt > CHANGE_CHECK_MS) {
        const at = selectChanged.get()?.at;
        changed = { at: new Date(Number(at ?? 0)), readAt: performance.now() };
      }
      return changed.at;
    },

    async list(articleId) {
      return selectAll
        .all(articleId, ...hidden.params)
        .map(({ body }) => JSON.parse(body as string) as Interaction);
    },

    async listReplies(articleId, { limit, offset = 0 }) {
      return selectReplies
        .all(articleId, ...hidden.params, limit, offset)
        .map(({ body }) => JSON.parse(body as string) as Interaction);
    },

    async counts(articleId) {
      const counts = { reply: 0, like: 0, boost: 0 };
      for (const { kind, n } of selectCounts.all(articleId)) {
        if (kind !== "held") counts[kind as InteractionKind] += Number(n);
      }
      if (hidden.params.length > 0) {
        for (const { kind, n } of selectHiddenCounts.all(articleId, ...hidden.params)) {
          counts[kind as InteractionKind] -= Number(n);
        }
      }
      return countsOf(counts);
    },

    async add(articleId, interaction): Promise<AddOutcome> {
      if (isHidden(options.hide ?? [], interaction.actor)) return "hidden";
      const { kind, id, actor } = interaction;
      const { server, handle } = hideColumns(interaction);
      const day = dayOf(now());
      return immediate(db, () => {
        const owner = selectOwner.get(id);
        const plan = planAdd(
          articleId,
          interaction,
          {
            owner: owner === undefined ? undefined : ownerOf(owner),
            previous:
              kind === "reply"
                ? undefined
                : (selectPrevious.get(articleId, kind, actor.id)?.id as string | undefined),
            total: number(selectTotal.get(articleId)),
            byActor: kind === "reply" ? number(selectByActor.get(actor.id, articleId)) : 0,
            byServerToday: kind === "reply" ? number(selectQuota.get(server, day)) : 0,
          },
          limits,
          options.replies,
        );
        if (plan.outcome !== "stored") return plan.outcome;
        const body = JSON.stringify(interaction);
        // A redelivery keeps its status; anything new is reviewed.
        let status: Status = owner?.status === "held" ? "held" : "shown";
        if (plan.replace === "same-id") {
          replace.run(interaction.published, handle, body, id);
        } else {
          status = statusOf(interaction);
          if (plan.replace === "previous") deleteOne.run(plan.previous);
          insert.run(
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
            bump.run(articleId, counterOf(kind, status), 1);
            if (kind === "reply") {
              if (prunedDay !== day) pruneQuota.run(day);
              prunedDay = day;
              bumpQuota.run(server, day);
            }
          }
        }
        changedNow();
        return status === "held" ? "held" : "stored";
      });
    },

    async edit(articleId, reply) {
      return immediate(db, () => {
        const owner = selectOwner.get(reply.id);
        if (owner === undefined || !isOwnReply(ownerOf(owner), articleId, reply)) return false;
        replace.run(reply.published, hideColumns(reply).handle, JSON.stringify(reply), reply.id);
        // New text is reviewed again, unless its author is trusted (this reply may be why).
        if (owner.status !== "held" && statusOf(reply) === "held") {
          setStatus.run("held", reply.id);
          bump.run(articleId, "reply", -1);
          bump.run(articleId, "held", 1);
        }
        changedNow();
        return true;
      });
    },

    async remove(id, actorId) {
      return immediate(db, () => {
        const owner = selectOwner.get(id);
        if (owner === undefined || owner.actor_id !== actorId) return false;
        deleteOne.run(id);
        bump.run(owner.article_id as string, counterOf(owner.kind as string, owner.status), -1);
        changedNow();
        return true;
      });
    },

    async removeActor(actorId) {
      return immediate(db, () => {
        const rows = selectByActorAll.all(actorId);
        for (const row of rows) {
          deleteOne.run(row.id as string);
          bump.run(row.article_id as string, counterOf(row.kind as string, row.status), -1);
        }
        if (rows.length > 0) changedNow();
        return rows.length;
      });
    },

    async held(articleId) {
      return parse(articleId === undefined ? selectHeld.all() : selectHeldOf.all(articleId));
    },

    async countHeld() {
      return number(selectHeldCount.get());
    },

    async approve(id) {
      return immediate(db, () => {
        const owner = selectOwner.get(id);
        if (owner?.status !== "held") return false;
        setStatus.run("shown", id);
        bump.run(owner.article_id as string, "held", -1);
        bump.run(owner.article_id as string, "reply", 1);
        changedNow();
        return true;
      });
    },

    async reject(id) {
      return immediate(db, () => {
        const owner = selectOwner.get(id);
        if (owner?.kind !== "reply") return false;
        deleteOne.run(id);
        bump.run(owner.article_id as string, counterOf("reply", owner.status), -1);
        changedNow();
        return true;
      });
    },
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
