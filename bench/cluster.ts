/**
 * Cluster benchmark (issue #5): 2 web + 2 worker Herald processes (`node src/main.ts` with
 * `ROLE=web` / `ROLE=worker`) on one fresh PostgreSQL schema, behind a round-robin proxy on
 * 127.0.0.1 that is their public origin. 200 fake Mastodon-like servers (one user each, so each
 * follower has an inbox of its own) follow the account through the proxy; then one article is
 * dropped into the shared articles folder. Measures whether every follower gets exactly one
 * verified `Create`, how long after the file appeared the last one arrived, and which processes
 * delivered. Loopback only.
 *
 *   node bench/cluster.ts            (or: npm run bench -- cluster)
 *   BENCH_FOLLOWERS=50 DATABASE_URL=postgres://… node bench/cluster.ts
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Cluster,
  createsOf,
  followAll,
  objectIdOf,
  startCluster,
  waitFor,
  writeArticle,
} from "../tests/helpers/cluster.ts";
import { type FakeRemote, startFakeRemotes } from "../tests/helpers/fake-remote.ts";
import { writeSection } from "./report.ts";

const followers = Number(process.env.BENCH_FOLLOWERS ?? 200);
const databaseUrl = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
const WEB = 2;
const WORKERS = 2;
/** How long to keep watching for duplicates once every follower has its Create. */
const WATCH_MS = 5_000;

let cluster: Cluster | undefined;
let remotes: FakeRemote[] = [];
try {
  const started = performance.now();
  [cluster, remotes] = await Promise.all([
    startCluster({ web: WEB, workers: WORKERS, databaseUrl }),
    startFakeRemotes(followers),
  ]);
  console.log(
    `${WEB} web + ${WORKERS} worker processes and ${followers} fake servers up in ${seconds(performance.now() - started)}; public origin ${cluster.publicUrl.origin}.`,
  );
  const following = performance.now();
  await followAll(remotes, cluster.actor, { timeoutMs: 120_000 });
  const followMs = performance.now() - following;
  console.log(`${followers} follows accepted in ${seconds(followMs)}.`);
  const live = cluster;
  await waitFor(
    () => live.grep(/Published: .*"role":"web"/).length > 0,
    30_000,
    "the first scan (an import, not pushed)",
  );

  const appeared = writeArticle(cluster.articlesDir, "cluster-news", "Cluster news", new Date());
  const object = await objectIdOf(cluster.publicUrl, "cluster-news", 30_000);
  await waitFor(
    () => remotes.every((remote) => createsOf(remote, object).verified.length > 0),
    120_000,
    `a verified Create at each of the ${followers} followers`,
  );
  const arrivals = remotes.map(
    (remote) => createsOf(remote, object).verified[0]?.receivedAt.getTime() ?? Number.NaN,
  );
  await sleep(WATCH_MS);

  const results = remotes.map((remote) => createsOf(remote, object));
  const exactlyOne = results.filter((r) => r.verified.length === 1 && r.other.length === 0).length;
  const received = results.reduce((sum, r) => sum + r.verified.length + r.other.length, 0);
  const duplicates =
    received - results.filter((r) => r.verified.length + r.other.length > 0).length;
  const unverified = results.reduce((sum, r) => sum + r.other.length, 0);
  const sorted = arrivals.map((t) => t - appeared.getTime()).sort((a, b) => a - b);
  const firstMs = sorted[0] ?? Number.NaN;
  const medianMs = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  const lastMs = sorted.at(-1) ?? Number.NaN;

  const deliveries = cluster.deliveries();
  const byProcess = cluster.processes.map((p) => {
    const types = deliveries.get(p.name);
    return {
      name: p.name,
      creates: types?.get("Create") ?? 0,
      accepts: types?.get("Accept") ?? 0,
      proxied: cluster?.proxied.get(p.name),
      queued: cluster
        ?.records()
        .filter(
          ({ name, record }) =>
            name === p.name &&
            record.logger === "herald.federation.publisher" &&
            record.properties?.type === "created",
        ).length,
    };
  });
  const stopped = await cluster.stop();
  cluster = undefined;
  const allExited = stopped.every((s) => s.exitedInTime);

  const table = [
    "| process | requests via proxy | Creates queued (scan) | Accepts delivered | Creates delivered |",
    "|---|---:|---:|---:|---:|",
    ...byProcess.map(
      (p) => `| ${p.name} | ${p.proxied ?? "–"} | ${p.queued ?? 0} | ${p.accepts} | ${p.creates} |`,
    ),
  ].join("\n");
  const stops = stopped.map((s) => `${s.name} ${s.ms} ms (exit ${s.code})`).join(", ");
  const body = `
Command: \`npm run bench -- cluster\` (\`node bench/cluster.ts\`): ${WEB} \`ROLE=web\` + ${WORKERS}
\`ROLE=worker\` processes of \`node src/main.ts\` on one fresh PostgreSQL schema
(\`DATABASE_URL=…?search_path=…\`), one shared \`ARTICLES_DIR\` and \`KEYS_DIR\`,
\`SCAN_SCHEDULE\` every second, behind a round-robin proxy on 127.0.0.1 as the one
\`PUBLIC_URL\`. ${followers} fake Mastodon-like servers on loopback, one user each, really follow
the account through the proxy (Follow → Accept); then one article file is dropped in.

- Followers with exactly one verified \`Create\`: **${exactlyOne} of ${followers}**
- Duplicate \`Create\`s (watched ${WATCH_MS / 1000} s more after the last arrival): **${duplicates}**; refused (unverified) \`Create\`s: ${unverified}
- From the file appearing to the last delivery: **${seconds(lastMs)}** (first ${seconds(firstMs)}, median ${seconds(medianMs)}; scans run every second)
- ${followers} follows accepted in ${seconds(followMs)} (20 at a time)
- Every process stopped on SIGTERM within 10 s: ${allExited ? "yes" : "**no**"} (${stops})

Who did what (from each process's log; deliveries from Fedify's "Successfully sent activity"):

${table}
`;
  console.log(body);
  writeSection("Cluster (bench/cluster.ts)", body);
  if (exactlyOne !== followers || duplicates !== 0 || !allExited) process.exitCode = 1;
} catch (error) {
  console.error(error);
  for (const p of cluster?.processes ?? []) {
    console.error(`--- ${p.name} (last lines)\n${p.lines.slice(-15).join("\n")}`);
  }
  process.exitCode = 1;
} finally {
  await Promise.all(remotes.map((remote) => remote.close()));
  await cluster?.stop();
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
