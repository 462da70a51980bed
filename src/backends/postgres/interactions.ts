/**
 * The `InteractionStore` in PostgreSQL, shared by every process on the same database and
 * schema: the same tables as the SQLite store's (`backends/sqlite/interactions.ts`). Each change is
 * one transaction; adds to one article take a transaction-scoped advisory lock on it, so
 * concurrent workers keep its limits. Tables from before replies could be held get the
 * `status` column at open (rows stay shown).
 */
import type postgres from "postgres";
import {
  type AddFacts,
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
import { createTablesOnce } from "./tables.ts";

const TABLE = "herald_interactions";
const COUNTS = "herald_interaction_counts";
const QUOTA = "herald_interaction_quota";
const CHANGED = "herald_interactions_changed";
const HELD_INDEX = `CREATE INDEX IF NOT EXISTS "${TABLE}_held" ON "${TABLE}" (published, id) WHERE status = 'held'`;

// `C` collation: ids and times order by code point, as in SQLite, so both stores page alike.
const DDL = `
  CREATE TABLE IF NOT EXISTS "${TABLE}" (
    id         text COLLATE "C" PRIMARY KEY,
    actor_id   text COLLATE "C" NOT NULL,
    article_id text COLLATE "C" NOT NULL,
    kind       text NOT NULL,
    published  text COLLATE "C" NOT NULL,
    server     text NOT NULL,
    handle     text,
    body       text NOT NULL,
    status     text NOT NULL DEFAULT 'shown'
  );
  CREATE UNIQUE INDEX IF NOT EXISTS "${TABLE}_one_reaction"
    ON "${TABLE}" (article_id, kind, actor_id) WHERE kind <> 'reply';
  CREATE INDEX IF NOT EXISTS "${TABLE}_by_article" ON "${TABLE}" (article_id, kind, published, id);
  CREATE INDEX IF NOT EXISTS "${TABLE}_by_actor" ON "${TABLE}" (actor_id, article_id, kind);
  CREATE TABLE IF NOT EXISTS "${COUNTS}" (
    article_id text COLLATE "C" NOT NULL,
    kind       text NOT NULL,
    count      integer NOT NULL,
    PRIMARY KEY (article_id, kind)
  );
  CREATE TABLE IF NOT EXISTS "${QUOTA}" (
    server text NOT NULL,
    day    text NOT NULL,
    count  integer NOT NULL,
    PRIMARY KEY (server, day)
  );
  CREATE TABLE IF NOT EXISTS "${CHANGED}" (
    one integer PRIMARY KEY CHECK (one = 1),
    at   timestamptz NOT NULL
  );
  ${HELD_INDEX};
`;

/**
 * Creates the tables in the client's current schema if missing (safe when several processes
 * start at once) and opens the store on them. The client is the caller's.
 */
export async function openPostgresInteractionStore(
  sql: postgres.Sql,
  options: InteractionStoreOptions = {},
): Promise<InteractionStore> {
  await createTablesOnce(sql, TABLE, DDL);
  await addStatusColumn(sql);
  const hide = options.hide ?? [];
  const changed = sql(CHANGED);
  const store: Store = {
    sql,
    options,
    hide,
    limits: limitsOf(options),
    now: options.now ?? (() => new Date()),
    table: sql(TABLE),
    counts: sql(COUNTS),
    quota: sql(QUOTA),
    changed,
    hidden: hiddenWhere(sql, hide),
    clock: changeClock(async () => {
      const [row] = await sql<{ at: Date }[]>`SELECT at FROM ${changed}`;
      return row?.at ?? new Date(0);
    }),
  };
  return {
    ...readMethods(store),
    add: (articleId, interaction) => add(store, articleId, interaction),
    ...reviewMethods(store),
  };
}

type Tx = postgres.TransactionSql;
type Name = postgres.Helper<string, []>;

/** What the store's methods share: the client, the table names, options and the change clock. */
interface Store {
  readonly sql: postgres.Sql;
  readonly options: InteractionStoreOptions;
  readonly hide: readonly HideRule[];
  readonly limits: ReturnType<typeof limitsOf>;
  readonly now: () => Date;
  readonly table: Name;
  readonly counts: Name;
  readonly quota: Name;
  readonly changed: Name;
  readonly hidden: postgres.PendingQuery<postgres.Row[]>;
  readonly clock: ReturnType<typeof changeClock>;
}

const number = (rows: readonly { n?: unknown }[]) => Number(rows[0]?.n ?? 0);

const interactionsOf = (rows: readonly { body: string }[]) =>
  rows.map(({ body }) => JSON.parse(body) as Interaction);

async function changedNow({ now, changed, clock }: Store, tx: Tx): Promise<void> {
  const at = now();
  await tx`
    INSERT INTO ${changed} (one, at) VALUES (1, ${at})
    ON CONFLICT (one) DO UPDATE SET at = excluded.at`;
  clock.wrote(at);
}

function bump({ counts }: Store, tx: Tx, articleId: string, kind: string, by: number) {
  return tx`
    INSERT INTO ${counts} (article_id, kind, count) VALUES (${articleId}, ${kind}, ${by})
    ON CONFLICT (article_id, kind) DO UPDATE SET count = ${counts}.count + excluded.count`;
}

/** Moves a reply's count between the held and the shown counter. */
async function moveCounter(store: Store, tx: Tx, articleId: string, to: Status): Promise<void> {
  await bump(store, tx, articleId, to === "held" ? "reply" : "held", -1);
  await bump(store, tx, articleId, to === "held" ? "held" : "reply", 1);
}

async function ownerRow({ table }: Store, tx: Tx, id: string) {
  const [row] = await tx`SELECT actor_id, article_id, kind, status FROM ${table} WHERE id = ${id}`;
  return row === undefined ? undefined : ownerOf(row);
}

async function statusOf(store: Store, tx: Tx, reply: Interaction): Promise<Status> {
  const review = reviewOf(reply, store.options);
  if (review !== "unless-trusted") return review;
  const trusted = await tx`
    SELECT 1 FROM ${store.table}
    WHERE actor_id = ${reply.actor.id} AND kind = 'reply' AND status = 'shown' LIMIT 1`;
  return trusted.length > 0 ? "shown" : "held";
}

function readMethods(store: Store) {
  const { sql, table, counts, hidden } = store;
  return {
    changedAt: () => store.clock.at(),
    list: async (articleId: string) =>
      interactionsOf(
        await sql<{ body: string }[]>`
          SELECT body FROM ${table}
          WHERE article_id = ${articleId} AND status = 'shown' AND NOT ${hidden}
          ORDER BY published, id`,
      ),
    listReplies: async (articleId: string, { limit, offset = 0 }: ReplyPage) =>
      interactionsOf(
        await sql<{ body: string }[]>`
          SELECT body FROM ${table}
          WHERE article_id = ${articleId} AND kind = 'reply' AND status = 'shown' AND NOT ${hidden}
          ORDER BY published DESC, id DESC LIMIT ${limit} OFFSET ${offset}`,
      ),
    counts: async (articleId: string) =>
      shownCounts(
        await sql`
          SELECT kind, count AS n FROM ${counts} WHERE article_id = ${articleId} AND kind <> 'held'`,
        store.hide.length === 0
          ? []
          : await sql`
            SELECT kind, count(*) AS n FROM ${table}
            WHERE article_id = ${articleId} AND status = 'shown' AND ${hidden} GROUP BY kind`,
      ),
    held: async (articleId?: string) => {
      const rows = await sql<{ article_id: string; body: string }[]>`
        SELECT article_id, body FROM ${table}
        WHERE status = 'held' ${articleId === undefined ? sql`` : sql`AND article_id = ${articleId}`}
        ORDER BY published DESC, id DESC`;
      return rows.map(
        (row): HeldReply => ({ articleId: row.article_id, reply: JSON.parse(row.body) }),
      );
    },
    countHeld: async () =>
      number(await sql`SELECT coalesce(sum(count), 0) AS n FROM ${counts} WHERE kind = 'held'`),
  };
}

type ReplyPage = { readonly limit: number; readonly offset?: number };

/** What `planAdd` weighs, read under the article's lock. */
async function addFacts(
  { table, counts, quota }: Store,
  tx: Tx,
  articleId: string,
  interaction: Interaction,
  owner: AddFacts["owner"],
  { server, day }: { server: string; day: string },
): Promise<AddFacts> {
  const { kind, actor } = interaction;
  const previous =
    kind === "reply"
      ? []
      : await tx<{ id: string }[]>`
          SELECT id FROM ${table}
          WHERE article_id = ${articleId} AND kind = ${kind} AND actor_id = ${actor.id}`;
  const total = await tx`
    SELECT coalesce(sum(count), 0) AS n FROM ${counts} WHERE article_id = ${articleId}`;
  if (kind !== "reply") {
    return { owner, previous: previous[0]?.id, total: number(total), byActor: 0, byServerToday: 0 };
  }
  const byActor = await tx`
    SELECT count(*) AS n FROM ${table}
    WHERE actor_id = ${actor.id} AND article_id = ${articleId} AND kind = 'reply'`;
  const byServerToday = await tx`
    SELECT count AS n FROM ${quota} WHERE server = ${server} AND day = ${day}`;
  return {
    owner,
    previous: previous[0]?.id,
    total: number(total),
    byActor: number(byActor),
    byServerToday: number(byServerToday),
  };
}

async function add(store: Store, articleId: string, interaction: Interaction): Promise<AddOutcome> {
  if (isHidden(store.hide, interaction.actor)) return "hidden";
  const { table, quota } = store;
  const { kind, id, actor } = interaction;
  const { server, handle } = hideColumns(interaction);
  const day = dayOf(store.now());
  const body = JSON.stringify(interaction);
  let status: Status = "shown";
  return (await store.sql
    .begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`herald:interactions:${articleId}`}, 0))`;
      const owner = await ownerRow(store, tx, id);
      const facts = await addFacts(store, tx, articleId, interaction, owner, { server, day });
      const plan = planAdd(articleId, interaction, facts, store.limits, store.options.replies);
      if (plan.outcome !== "stored") return plan.outcome;
      if (plan.replace === "same-id") {
        // A redelivery keeps its status; anything new is reviewed.
        status = owner?.held ? "held" : "shown";
        await tx`
          UPDATE ${table} SET published = ${interaction.published}, handle = ${handle},
            body = ${body} WHERE id = ${id}`;
      } else {
        status = await statusOf(store, tx, interaction);
        if (plan.replace === "previous") await tx`DELETE FROM ${table} WHERE id = ${plan.previous}`;
        // The id may have been taken since it was read, by another article's transaction.
        const inserted = await tx`
          INSERT INTO ${table}
            (id, actor_id, article_id, kind, published, server, handle, body, status)
          VALUES (${id}, ${actor.id}, ${articleId}, ${kind}, ${interaction.published},
            ${server}, ${handle}, ${body}, ${status})
          ON CONFLICT (id) DO NOTHING RETURNING 1`;
        if (inserted.length === 0) throw new TakenError();
        if (plan.replace === "none") {
          await bump(store, tx, articleId, counterOf(kind, status), 1);
          if (kind === "reply") {
            await tx`DELETE FROM ${quota} WHERE day < ${day}`;
            await tx`
              INSERT INTO ${quota} (server, day, count) VALUES (${server}, ${day}, 1)
              ON CONFLICT (server, day) DO UPDATE SET count = ${quota}.count + 1`;
          }
        }
      }
      await changedNow(store, tx);
      return status === "held" ? "held" : "stored";
    })
    .catch((error: unknown) => {
      if (error instanceof TakenError) return "taken";
      throw error;
    })) as AddOutcome;
}

/** Edits and removals by their authors, and the editors' review of held replies. */
function reviewMethods(store: Store) {
  const { sql, table } = store;
  return {
    edit: async (articleId: string, reply: Interaction) =>
      (await sql.begin(async (tx) => {
        const owner = await ownerRow(store, tx, reply.id);
        if (owner === undefined || !isOwnReply(owner, articleId, reply)) return false;
        await tx`
          UPDATE ${table} SET published = ${reply.published},
            handle = ${hideColumns(reply).handle}, body = ${JSON.stringify(reply)}
          WHERE id = ${reply.id}`;
        // New text is reviewed again, unless its author is trusted (this reply may be why).
        if (!owner.held && (await statusOf(store, tx, reply)) === "held") {
          await tx`UPDATE ${table} SET status = 'held' WHERE id = ${reply.id}`;
          await moveCounter(store, tx, articleId, "held");
        }
        await changedNow(store, tx);
        return true;
      })) as boolean,
    remove: async (id: string, actorId: string) =>
      (await sql.begin(async (tx) => {
        const [row] = await tx<{ article_id: string; kind: string; status: string }[]>`
          DELETE FROM ${table} WHERE id = ${id} AND actor_id = ${actorId}
          RETURNING article_id, kind, status`;
        if (row === undefined) return false;
        await bump(store, tx, row.article_id, counterOf(row.kind, row.status), -1);
        await changedNow(store, tx);
        return true;
      })) as boolean,
    removeActor: async (actorId: string) =>
      (await sql.begin(async (tx) => {
        const rows = await tx<{ article_id: string; kind: string; status: string }[]>`
          DELETE FROM ${table} WHERE actor_id = ${actorId} RETURNING article_id, kind, status`;
        // In one order, so two of these at once cannot deadlock on the counters.
        const sorted = rows.map((r) => [r.article_id, counterOf(r.kind, r.status)] as const).sort();
        for (const [articleId, kind] of sorted) await bump(store, tx, articleId, kind, -1);
        if (rows.length > 0) await changedNow(store, tx);
        return rows.length;
      })) as number,
    approve: async (id: string) =>
      (await sql.begin(async (tx) => {
        const [row] = await tx<{ article_id: string }[]>`
          UPDATE ${table} SET status = 'shown' WHERE id = ${id} AND status = 'held'
          RETURNING article_id`;
        if (row === undefined) return false;
        await moveCounter(store, tx, row.article_id, "shown");
        await changedNow(store, tx);
        return true;
      })) as boolean,
    reject: async (id: string) =>
      (await sql.begin(async (tx) => {
        const [row] = await tx<{ article_id: string; status: string }[]>`
          DELETE FROM ${table} WHERE id = ${id} AND kind = 'reply' RETURNING article_id, status`;
        if (row === undefined) return false;
        await bump(store, tx, row.article_id, counterOf("reply", row.status), -1);
        await changedNow(store, tx);
        return true;
      })) as boolean,
  };
}

/**
 * Gives a table from before replies could be held its `status` column (every row shown) and
 * the index of the review queue, under the same lock as the tables' creation.
 */
async function addStatusColumn(sql: postgres.Sql): Promise<void> {
  const has = async (tx: postgres.Sql | postgres.TransactionSql) =>
    (
      await tx`
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = ${TABLE} AND column_name = 'status'`
    ).length > 0;
  if (await has(sql)) return;
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended('herald:ddl', 0))`;
    if (await has(tx)) return;
    await tx
      .unsafe(
        `ALTER TABLE "${TABLE}" ADD COLUMN status text NOT NULL DEFAULT 'shown'; ${HELD_INDEX};`,
      )
      .simple();
  });
}

/** Rolls back an add whose id another transaction took first. */
class TakenError extends Error {}

/** The hide rules as an SQL condition on a row (`false` when none). */
function hiddenWhere(
  sql: postgres.Sql,
  rules: readonly HideRule[],
): postgres.PendingQuery<postgres.Row[]> {
  const { actors, handles, domains } = hideLists(rules);
  const parts = [
    ...(actors.length > 0 ? [sql`actor_id IN ${sql(actors)}`] : []),
    ...(handles.length > 0 ? [sql`handle IN ${sql(handles)}`] : []),
    ...domains.map(
      (domain) => sql`server = ${domain} OR server LIKE ${subdomainPattern(domain)} ESCAPE '\\'`,
    ),
  ];
  if (parts.length === 0) return sql`false`;
  return sql`(${parts.reduce((all, part) => sql`${all} OR ${part}`)})`;
}
