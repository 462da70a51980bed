/**
 * Load: a real Herald process with 200 articles under 200 concurrent connections on its feeds
 * and pages for 30 s (errors, requests/s, latency, resident memory over time), then a burst of
 * 1,000 Follow requests from 100 servers (each accepted exactly once, memory bounded).
 *
 *   node bench/load.ts            (or: npm run bench -- load)
 *   BENCH_SECONDS=10 node bench/load.ts    (a shorter run)
 *   BENCH_HEAP_MB=none node bench/load.ts   (no heap limit: see the note it writes)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Pool } from "undici";
import {
  type FakeRemote,
  type JsonObject,
  startFakeRemotes,
} from "../tests/helpers/fake-remote.ts";
import { makeFolders, spawnHerald } from "../tests/helpers/herald-spawn.ts";
import { writeSection } from "./report.ts";

// The issue asks for 30 s; twice that shows whether memory levels off.
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const connections = 200;
const articles = 200;
const follows = { hosts: 100, perHost: 10 };

const folders = makeFolders();
for (let i = 0; i < articles; i++) {
  writeFileSync(
    join(folders.articles, `story-${i}.md`),
    `---\ntitle: Story ${i}\ntags: [news, tag-${i % 10}]\n---\n${"A paragraph of the story. ".repeat(60)}\n`,
  );
}
// As the Docker image runs it (see Dockerfile): with a heap limit, V8 collects as it goes.
const heapLimit = process.env.BENCH_HEAP_MB ?? "256";
const herald = await spawnHerald(folders, {
  env: {
    // Every fake server sends from 127.0.0.1: the per-address limit (600 a minute by default,
    // tested in tests/e2e/inbox-rate-limit.test.ts) would answer most of a burst 429.
    INBOX_RATE_LIMIT: "5000",
    NODE_OPTIONS: heapLimit === "none" ? "" : `--max-old-space-size=${heapLimit}`,
  },
});
const pid = herald.child.pid ?? 0;
const rssMb = () => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return Number(line?.[1] ?? 0) / 1024;
};

try {
  const read = await readLoad();
  const follow = await followBurst("a");
  const again = await followBurst("b");
  const body = `Command: \`node bench/load.ts\` (a real Herald process, embedded SQLite, ${articles} articles, ${heapLimit === "none" ? "no heap limit" : `\`--max-old-space-size=${heapLimit}\` as in the Docker image`}).

**Feeds and pages**: ${connections} concurrent connections for ${seconds} s, each requesting in turn the home page, the RSS, Atom and JSON feeds, a tag page and article pages (half of them with \`Accept-Encoding: gzip, br\`).

| requests | errors (non-2xx or failed) | requests/s | latency p50 | p99 | max |
|---:|---:|---:|---:|---:|---:|
| ${read.requests.toLocaleString("en")} | ${read.errors} | ${Math.round(read.requests / seconds).toLocaleString("en")} | ${read.p50.toFixed(1)} ms | ${read.p99.toFixed(1)} ms | ${read.max.toFixed(1)} ms |

Server resident memory: ${read.rss.start.toFixed(0)} MB before, ${read.rss.peak.toFixed(0)} MB peak, ${read.rss.end.toFixed(0)} MB at the end; per ${seconds / 5}-s fifth of the run: ${read.rss.fifths.map((mb) => `${mb.toFixed(0)}`).join(", ")} MB.

**Follow burst**: ${follows.hosts * follows.perHost} Follow requests from ${follows.hosts} servers (${follows.perHost} accounts each, signed like Mastodon, verified by Herald), 100 at a time.

| follows | accepted exactly once | followers counted | time | server RSS before / peak / after |
|---:|---:|---:|---:|---:|
${[follow, again].map((f, i) => `| ${i === 0 ? "first" : "second"} burst: ${f.sent} | ${f.exactlyOnce} | ${f.counted} | ${f.seconds.toFixed(1)} s | ${f.rss.start.toFixed(0)} / ${f.rss.peak.toFixed(0)} / ${f.rss.end.toFixed(0)} MB |`).join("\n")}

A second burst of 1,000 new followers shows whether memory keeps growing with the followers (it would if they were held in memory) or levels off (they live in the store).

Without a heap limit (\`BENCH_HEAP_MB=none\`) V8 runs no full collection under this load while the limit it derives from the machine (several GB here) is far away: in one such 90-s run (2026-11-28) resident memory climbed from 293 to 581 MB, while \`node --trace-gc\` on the same load with a limit showed the live heap after each full collection flat at 62–67 MB: garbage waiting, not a leak. Hence the limit in the Docker image; set \`NODE_OPTIONS=--max-old-space-size=256\` for \`npm start\` on a small server too.`;
  writeSection("Load (bench/load.ts)", body);
  console.log(body);
  if (read.errors > 0 || [follow, again].some((f) => f.exactlyOnce !== f.sent)) {
    process.exitCode = 1;
  }
} finally {
  await herald.stop();
  folders.remove();
}

/** RSS sampled every 250 ms while `work` runs. */
async function sampled<T>(work: () => Promise<T>) {
  const samples: number[] = [rssMb()];
  const timer = setInterval(() => samples.push(rssMb()), 250);
  try {
    const result = await work();
    samples.push(rssMb());
    return { result, samples };
  } finally {
    clearInterval(timer);
  }
}

async function readLoad() {
  const paths = ["/", "/feed.xml", "/atom.xml", "/feed.json", "/tags/news"];
  for (let i = 0; i < 20; i++) paths.push(`/articles/story-${i * 10}`);
  const pool = new Pool(herald.origin, { connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async (n: number) => {
    for (let i = n; performance.now() < until; i++) {
      const path = paths[i % paths.length] as string;
      const start = performance.now();
      try {
        const response = await pool.request({
          path,
          method: "GET",
          headers: n % 2 === 0 ? { "accept-encoding": "gzip, br" } : {},
        });
        await response.body.dump({ limit: Number.POSITIVE_INFINITY });
        if (response.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - start);
    }
  };
  const { samples } = await sampled(() =>
    Promise.all(Array.from({ length: connections }, (_, n) => worker(n))),
  );
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const fifth = Math.ceil(samples.length / 5);
  return {
    requests: latencies.length,
    errors,
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1) ?? 0,
    rss: {
      start: samples[0] ?? 0,
      peak: Math.max(...samples),
      end: samples.at(-1) ?? 0,
      fifths: Array.from({ length: 5 }, (_, i) =>
        Math.max(...samples.slice(i * fifth, (i + 1) * fifth)),
      ),
    },
  };
}

/** 1,000 follows; `round` names the accounts, so a second burst is new followers. */
async function followBurst(round: string) {
  const users = Array.from({ length: follows.perHost }, (_, i) => `${round}user${i}`);
  const remotes = await startFakeRemotes(follows.hosts, { users });
  try {
    const actor = new URL("/users/news", herald.origin);
    const start = performance.now();
    const followIds: { remote: FakeRemote; id: string }[] = [];
    const { samples } = await sampled(async () => {
      // Each server's accounts follow one after the other; all servers at once.
      await Promise.all(
        remotes.map(async (remote) => {
          for (const user of remote.users) {
            const id = (await remote.follow(user, actor)).href;
            followIds.push({ remote, id });
            await remote.waitFor((a) => a.type === "Accept" && objectId(a) === id, {
              timeoutMs: 120_000,
            });
          }
        }),
      );
    });
    const seconds = (performance.now() - start) / 1000;
    // Accepted exactly once: one verified Accept of that Follow, and no other.
    const exactlyOnce = followIds.filter(
      ({ remote, id }) =>
        remote.received((r) => r.type === "Accept" && r.verified && objectId(r.activity) === id)
          .length === 1,
    ).length;
    const response = await fetch(new URL("/users/news/followers", herald.origin), {
      headers: { Accept: "application/activity+json" },
    });
    const counted = Number(((await response.json()) as { totalItems?: number }).totalItems);
    return {
      sent: follows.hosts * follows.perHost,
      exactlyOnce,
      counted,
      seconds,
      rss: { start: samples[0] ?? 0, peak: Math.max(...samples), end: samples.at(-1) ?? 0 },
    };
  } finally {
    await Promise.all(remotes.map((r) => r.close()));
  }
}

function objectId(activity: JsonObject | undefined): string | undefined {
  const object = activity?.object;
  if (typeof object === "string") return object;
  return typeof object === "object" && object !== null && !Array.isArray(object)
    ? String((object as JsonObject).id)
    : undefined;
}
