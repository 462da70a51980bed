/**
 * The followers collection at `BENCH_FOLLOWERS` followers (100,000 by default), 10 on each of
 * a tenth as many servers, on embedded SQLite and on PostgreSQL: a real Herald process
 * (`node src/main.ts`) answers, timed from outside like a server fetching it.
 *
 *   node bench/followers.ts
 *
 * Per engine: the collection (its `totalItems`, what Mastodon reads), then every page from
 * the first to the last following `next` (5,000 pages of 20 at 100,000), and a FEP-8fcf
 * synchronization request for one server (`?base-url=`). Target: each answers in < 50 ms.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import { openPostgresFollowerStore } from "../src/backends/postgres/followers.ts";
import { openSqliteFollowerStore } from "../src/backends/sqlite/followers.ts";
import type { Follower, FollowerStore } from "../src/federation/followers.ts";
import { makeFolders, spawnHerald } from "../tests/helpers/herald-spawn.ts";
import { recordCurve, verdict } from "./cost-curves.ts";
import { metOrMissed, npmStartFlags, writeSection } from "./report.ts";

const count = Number(process.env.BENCH_FOLLOWERS ?? 100_000);
const perServer = 10;
const databaseUrl = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
const ACCEPT = "application/activity+json";

interface Timings {
  readonly engine: string;
  readonly collection: number[];
  readonly pages: number[];
  readonly sync: number[];
  readonly items: number;
}

function follower(n: number, since: number): Follower {
  const origin = `https://s${Math.floor(n / perServer)}.example`;
  const id = new URL(`${origin}/users/u${n % perServer}`);
  return {
    id,
    inbox: new URL(`${id.href}/inbox`),
    sharedInbox: new URL(`${origin}/inbox`),
    followId: new URL(`${id.href}#follows/herald`),
    createdAt: new Date(since + n),
  };
}

async function seed(store: FollowerStore, begin: () => unknown, commit: () => unknown) {
  const since = Date.now() - 86_400_000;
  await begin();
  for (let n = 0; n < count; n++) await store.add(follower(n, since));
  await commit();
}

async function time(url: URL): Promise<{ ms: number; body: Record<string, unknown> }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { Accept: ACCEPT } });
  const body = (await response.json()) as Record<string, unknown>;
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`GET ${url.href} answered ${response.status}`);
  return { ms, body };
}

async function measure(
  engine: string,
  env: Record<string, string>,
  folders: ReturnType<typeof makeFolders>,
): Promise<Timings> {
  const herald = await spawnHerald(folders, {
    env: { ...env, NODE_OPTIONS: npmStartFlags().join(" ") },
  });
  try {
    const collectionUrl = new URL("/users/news/followers", herald.origin);
    const collection: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { ms, body } = await time(collectionUrl);
      collection.push(ms);
      if (body.totalItems !== count) throw new Error(`totalItems ${String(body.totalItems)}`);
    }
    const first = (await time(collectionUrl)).body.first;
    let next: string | undefined =
      typeof first === "string" ? first : (first as { id?: string })?.id;
    const pages: number[] = [];
    let items = 0;
    while (next !== undefined) {
      const { ms, body } = await time(new URL(next));
      pages.push(ms);
      items += Array.isArray(body.orderedItems) ? body.orderedItems.length : 0;
      next = typeof body.next === "string" ? body.next : undefined;
    }
    const sync: number[] = [];
    for (let i = 0; i < 20; i++) {
      const server = `https://s${Math.floor((i * count) / 20 / perServer)}.example/`;
      const url = new URL(`${collectionUrl.href}?base-url=${encodeURIComponent(server)}`);
      sync.push((await time(url)).ms);
    }
    return { engine, collection, pages, sync, items };
  } finally {
    await herald.stop();
  }
}

async function sqlite(): Promise<Timings> {
  const folders = makeFolders();
  try {
    const db = new DatabaseSync(join(folders.data, "herald.sqlite"));
    await seed(
      openSqliteFollowerStore(db),
      () => db.exec("BEGIN"),
      () => db.exec("COMMIT"),
    );
    db.close();
    return await measure("SQLite", {}, folders);
  } finally {
    folders.remove();
  }
}

async function postgresql(): Promise<Timings> {
  const schema = `herald_bench_${randomUUID().replaceAll("-", "")}`;
  const url = new URL(databaseUrl);
  url.searchParams.set("search_path", schema);
  const admin = postgres(databaseUrl.href, { max: 1, onnotice: () => {} });
  const folders = makeFolders();
  try {
    await admin`CREATE SCHEMA ${admin(schema)}`;
    const sql = postgres(url.href, { max: 1, onnotice: () => {} });
    const store = await openPostgresFollowerStore(sql);
    const since = Date.now() - 86_400_000;
    const rows = Array.from({ length: count }, (_, n) => follower(n, since));
    for (let i = 0; i < rows.length; i += 5000) {
      await sql`INSERT INTO herald_followers ${sql(
        rows.slice(i, i + 5000).map((f) => ({
          actor_id: f.id.href,
          inbox: f.inbox.href,
          shared_inbox: f.sharedInbox?.href ?? null,
          follow_id: f.followId.href,
          created_at: f.createdAt,
        })),
      )}`;
    }
    // As autovacuum leaves a table that grew over time: statistics and a visibility map, so
    // that counting reads the index alone.
    await sql`VACUUM ANALYZE herald_followers`;
    if ((await store.count()) !== count) throw new Error("seeding PostgreSQL failed");
    await sql.end();
    return await measure("PostgreSQL", { DATABASE_URL: url.href }, folders);
  } finally {
    folders.remove();
    await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    await admin.end();
  }
}

const results = [await sqlite(), await postgresql()];
const stat = (values: readonly number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { median: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
};
const rows = results.flatMap((r) =>
  (
    [
      ["collection (`totalItems`)", r.collection],
      [`every page, first to last (${r.pages.length.toLocaleString("en")})`, r.pages],
      ["FEP-8fcf sync, one server (`?base-url=`)", r.sync],
    ] as const
  ).map(([what, values]) => {
    const s = stat(values);
    return `| ${r.engine} | ${what} | ${s.median.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.max.toFixed(1)} | ${metOrMissed(s.median < 50)} |`;
  }),
);
const body = `Command: \`node bench/followers.ts\` (${count.toLocaleString("en")} followers, ${perServer} on each of ${(count / perServer).toLocaleString("en")} servers; \`node src/main.ts\` on embedded SQLite, then on a fresh PostgreSQL schema; each request timed from outside, one at a time, \`Accept: application/activity+json\`; pages are keyset pages of 20 followed by their \`next\` links; the PostgreSQL table is vacuumed after seeding, as autovacuum leaves a table that grew over time; the p99 and max columns include the spikes of this shared machine: ${results.map((r) => `${r.engine} listed ${r.items.toLocaleString("en")}`).join(", ")}).

| engine | request | median ms | p99 ms | max ms | target: median < 50 ms |
|---|---|---:|---:|---:|---|
${rows.join("\n")}`;
writeSection("Followers collection (bench/followers.ts)", body);
const timing = (values: readonly number[], withP99 = true) => {
  const s = stat(values);
  const figures = `${s.median.toFixed(1)}${withP99 ? ` / ${s.p99.toFixed(1)}` : ""} ms`;
  return `${figures} ${verdict(s.median, { atMost: 50 })}`;
};
recordCurve(
  "collection",
  results.map((r, i) => ({
    order: i,
    cells: [
      `${r.engine} (${count.toLocaleString("en")})`,
      timing(r.collection),
      timing(r.pages),
      timing(r.sync, false),
    ],
  })),
  "node bench/followers.ts",
);
console.log(body);
