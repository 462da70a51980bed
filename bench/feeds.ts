/**
 * Requests/s for the RSS feed of 1,000 articles, 200 and 304 paths, for:
 *   ours  express + sendRepresentation (prebuilt, precompressed Representation)
 *   (a)   express sending the same bytes from memory (res.send with a precomputed ETag)
 *   (b)   bare node:http sending the same bytes
 *   (c)   express rebuilding the feed with `feed` on every request (the naive way)
 * Load comes from autocannon in a child process, on 127.0.0.1 only, for a bounded time.
 * Writes the "## Feeds (bench/feeds.ts)" section of docs/BENCHMARKS.md.
 *
 * Run: npx node bench/feeds.ts   (BENCH_SECONDS=3, BENCH_ROUNDS=5, BENCH_CONNECTIONS=10 by default)
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, get, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";
import { Feed } from "feed";
import type { Article } from "../src/article.ts";
import { feedContentTypes, feedSiteFor, renderFeeds } from "../src/feeds/render.ts";
import { makeRepresentationAsync, sendRepresentation } from "../src/http/representation.ts";
import { absolute, paths } from "../src/urls.ts";
import { metOrMissed } from "./report.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const warmupSeconds = 1;
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const articleCount = 1_000;
const cacheControl = "public, max-age=60";
const origin = new URL("https://news.test");
const siteBase = {
  origin,
  title: "Herald Benchmark",
  description: "1,000 generated articles.",
  language: "de",
  author: "Redaktion",
};

// --- data ------------------------------------------------------------------------------------

function generateArticles(count: number): Article[] {
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const words = (
    "Außenminister Nordkorea Weißrussland Gespräche Zusammenarbeit Russland Westen Reise " +
    "Einladung Nachrichtenagentur Bericht Erklärung Beobachter Amtskollegen Ministerium Präsident " +
    "Institut Vereinigung Partnerschaften Verteidigungspakt Beziehungen Führer Abkommen Unterstützung"
  ).split(" ");
  const sentence = (n: number) =>
    Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(" ");
  const start = Date.UTC(2024, 0, 1);
  return Array.from({ length: count }, (_, i) => {
    const published = new Date(start + i * 3_600_000);
    const paragraphs = Array.from({ length: 4 }, () => `<p>${sentence(30)}.</p>`).join("\n");
    return {
      id: `id-${i}`,
      path: `article-${i}.md`,
      slug: `article-${i}`,
      title: `${sentence(6)} & „${i}“`,
      summary: `${sentence(20)}.`,
      contentHtml: paragraphs,
      language: "de",
      tags: [words[i % words.length] ?? "news", "Politik"],
      ...(i % 5 === 0 ? { image: { src: `images/${i}.jpg`, alt: "Bild" } } : {}),
      pinned: false,
      published,
      updated: published,
      hash: `h${i}`,
    };
  });
}

/**
 * The naive way: the same feed built with `feed` on every request. It does pass the newest
 * article date (by default `feed` stamps "now", and the ETag express hashes would then change
 * every second, so no request could ever get a 304).
 */
function naiveRss(articles: readonly Article[]): string {
  const feed = new Feed({
    title: siteBase.title,
    description: siteBase.description,
    link: absolute(origin, paths.home).href,
    language: siteBase.language,
    updated: rendered.updated,
    feedLinks: { rss: absolute(origin, paths.rss).href },
  });
  for (const article of articles) {
    feed.addItem({
      title: article.title,
      link: absolute(origin, paths.article(article.slug)).href,
      guid: absolute(origin, paths.object(article.id)).href,
      date: article.updated,
      published: article.published,
      description: article.summary,
      content: article.contentHtml,
      category: article.tags.map((name) => ({ name })),
    });
  }
  return feed.rss2();
}

// --- servers ---------------------------------------------------------------------------------

const articles = generateArticles(articleCount);
const buildStart = performance.now();
const rendered = renderFeeds(articles, feedSiteFor(siteBase));
const renderMs = performance.now() - buildStart;
const repStart = performance.now();
const rep = await makeRepresentationAsync(rendered.rss, feedContentTypes.rss, rendered.updated);
const repMs = performance.now() - repStart;
const bytes = rep.identity.body;

function ours(): RequestListener {
  const app = express();
  app.get(paths.rss, (req, res) => {
    sendRepresentation(req, res, rep, { cacheControl });
  });
  return app;
}

function plainExpress(): RequestListener {
  const app = express();
  app.get(paths.rss, (_req, res) => {
    // With the ETag set, res.send skips hashing and answers 304 itself when the request is fresh.
    res.set({
      "Content-Type": rep.contentType,
      ETag: rep.etag,
      "Last-Modified": rep.lastModified.toUTCString(),
      "Cache-Control": cacheControl,
    });
    res.send(bytes);
  });
  return app;
}

function bareNode(): RequestListener {
  const lastModified = rep.lastModified.toUTCString();
  return (req, res) => {
    if (req.url !== paths.rss) {
      res.writeHead(404).end();
      return;
    }
    const headers = {
      ETag: rep.etag,
      "Last-Modified": lastModified,
      "Cache-Control": cacheControl,
    };
    if (req.headers["if-none-match"] === rep.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res
      .writeHead(200, {
        ...headers,
        "Content-Type": rep.contentType,
        "Content-Length": bytes.length,
      })
      .end(bytes);
  };
}

function naiveExpress(): RequestListener {
  const app = express();
  app.get(paths.rss, (_req, res) => {
    res.set("Cache-Control", cacheControl);
    res.type("application/rss+xml").send(naiveRss(articles));
  });
  return app;
}

async function listen(listener: RequestListener): Promise<{ server: Server; url: URL }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: new URL(paths.rss, `http://127.0.0.1:${port}`) };
}

/** One GET with node:http (fetch would add Cache-Control: no-cache to conditional requests). */
function probe(url: URL, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; etag: string; body: Buffer }>((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          etag: String(res.headers.etag ?? ""),
          body: Buffer.concat(chunks),
        }),
      );
    }).on("error", reject);
  });
}

// --- load ------------------------------------------------------------------------------------

interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly bytesPerSecond: number;
  readonly total: number;
  readonly ok2xx: number;
  readonly ok3xx: number;
  readonly errors: number;
  /** CPU time of this (the servers') process per request, µs: robust to other load. */
  readonly cpuPerRequest: number;
}

// autocannon runs in its own process so it never competes with the servers' event loop.
const child = `
const autocannon = require(require.resolve("autocannon", { paths: [process.cwd()] }));
const options = JSON.parse(process.argv[process.argv.length - 1]);
autocannon(options, (error, r) => {
  if (error) { console.error(error); process.exit(1); }
  process.stdout.write(JSON.stringify({
    requestsPerSecond: r.requests.average, p50: r.latency.p50, p99: r.latency.p99,
    bytesPerSecond: r.throughput.average, total: r.requests.total,
    ok2xx: r["2xx"], ok3xx: r["3xx"], errors: r.errors + r.timeouts,
  }));
});`;

function load(
  url: URL,
  headers: Record<string, string>,
  duration: number,
): Promise<Omit<LoadResult, "cpuPerRequest">> {
  const options = { url: url.href, headers, connections, duration, pipelining: 1 };
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["-e", child, JSON.stringify(options)], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    proc.on("error", reject);
    proc.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(out) as Omit<LoadResult, "cpuPerRequest">);
      else reject(new Error(`autocannon exited with ${code}.`));
    });
  });
}

// --- run -------------------------------------------------------------------------------------

type Name = "ours" | "a" | "b" | "c";
type Path = "200" | "304";
const servers: Record<Name, { label: string; listener: RequestListener }> = {
  ours: { label: "ours: express + sendRepresentation", listener: ours() },
  a: { label: "(a) express, same bytes from memory", listener: plainExpress() },
  b: { label: "(b) bare node:http, same bytes", listener: bareNode() },
  c: { label: "(c) express rebuilding the feed per request", listener: naiveExpress() },
};

const names = ["ours", "a", "b", "c"] as const;
const listening = await Promise.all(names.map((name) => listen(servers[name].listener)));
const urls = Object.fromEntries(names.map((name, i) => [name, listening[i]?.url])) as Record<
  Name,
  URL
>;
const conditionals = {} as Record<Name, Record<string, string>>;
for (const name of names) {
  const first = await probe(urls[name]);
  if (first.status !== 200) throw new Error(`${name}: status ${first.status}.`);
  if (name !== "c" && !first.body.equals(bytes)) throw new Error(`${name}: different bytes.`);
  conditionals[name] = { "If-None-Match": first.etag };
  const second = await probe(urls[name], conditionals[name]);
  if (second.status !== 304) throw new Error(`${name}: conditional GET gave ${second.status}.`);
}

async function measure(name: Name, path: Path, duration: number): Promise<LoadResult> {
  const cpuBefore = process.cpuUsage();
  const loaded = await load(urls[name], path === "200" ? {} : conditionals[name], duration);
  const cpu = process.cpuUsage(cpuBefore);
  const result = { ...loaded, cpuPerRequest: (cpu.user + cpu.system) / loaded.total };
  const expected = path === "200" ? result.ok2xx : result.ok3xx;
  if (result.errors > 0 || expected !== result.total) {
    throw new Error(`${name} ${path}: ${JSON.stringify(result)}`);
  }
  return result;
}

for (const path of ["200", "304"] as const) {
  for (const name of names) await measure(name, path, warmupSeconds);
}

// Other work on the machine makes single runs noisy, so ours is measured in pairs, right next to
// each baseline (alternating which goes first), and each ratio is the median over the rounds.
const baselines = ["a", "b", "c"] as const;
type Baseline = (typeof baselines)[number];
const runs = {
  ours: { "200": [] as LoadResult[], "304": [] as LoadResult[] },
  a: { "200": [] as LoadResult[], "304": [] as LoadResult[] },
  b: { "200": [] as LoadResult[], "304": [] as LoadResult[] },
  c: { "200": [] as LoadResult[], "304": [] as LoadResult[] },
};
const pairRatios: Record<Path, Record<Baseline, number[]>> = {
  "200": { a: [], b: [], c: [] },
  "304": { a: [], b: [], c: [] },
};
const cpuRatios: Record<Path, Record<Baseline, number[]>> = {
  "200": { a: [], b: [], c: [] },
  "304": { a: [], b: [], c: [] },
};
for (let round = 0; round < rounds; round++) {
  for (const path of ["200", "304"] as const) {
    for (const baseline of baselines) {
      const order = round % 2 === 0 ? (["ours", baseline] as const) : ([baseline, "ours"] as const);
      const pair: Partial<Record<Name, LoadResult>> = {};
      for (const name of order) {
        const result = await measure(name, path, seconds);
        pair[name] = result;
        runs[name][path].push(result);
        console.log(
          `round ${round + 1}/${rounds} ${path} ${servers[name].label}: ${result.requestsPerSecond.toFixed(0)} req/s`,
        );
      }
      pairRatios[path][baseline].push(
        (pair.ours?.requestsPerSecond ?? 0) / (pair[baseline]?.requestsPerSecond ?? 1),
      );
      cpuRatios[path][baseline].push(
        (pair[baseline]?.cpuPerRequest ?? 0) / (pair.ours?.cpuPerRequest ?? 1),
      );
    }
  }
}
for (const { server } of listening) {
  server.closeAllConnections();
  server.close();
}

function medianBy<T>(list: readonly T[], key: (item: T) => number): T | undefined {
  return [...list].sort((x, y) => key(x) - key(y))[Math.floor(list.length / 2)];
}
const results = Object.fromEntries(
  names.map((name) => [
    name,
    {
      "200": medianBy(runs[name]["200"], (r) => r.requestsPerSecond),
      "304": medianBy(runs[name]["304"], (r) => r.requestsPerSecond),
    },
  ]),
) as Record<Name, Record<Path, LoadResult | undefined>>;

// --- report ----------------------------------------------------------------------------------

const rps = (name: Name, path: Path) => results[name][path]?.requestsPerSecond ?? Number.NaN;
const ratio = (path: Path, to: Baseline) => medianBy(pairRatios[path][to], (x) => x) ?? Number.NaN;
const cpuRatio = (path: Path, to: Baseline) =>
  medianBy(cpuRatios[path][to], (x) => x) ?? Number.NaN;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const targets = (["200", "304"] as const).flatMap((path) => [
  { what: `${path}: ours ≥ 0.9× (a)`, ok: ratio(path, "a") >= 0.9 },
  { what: `${path}: ours ≥ 5× (c)`, ok: ratio(path, "c") >= 5 },
]);

const paths200304 = ["200", "304"] as const;
const section = `## Feeds (bench/feeds.ts)

Command: \`npx node bench/feeds.ts\` (run ${new Date().toISOString().slice(0, 10)}, Node ${process.version},
${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}).

The RSS feed of ${fmt(articleCount)} generated articles: ${fmt(bytes.length)} bytes (gzip
${fmt(rep.gzip?.body.length ?? 0)}, br ${fmt(rep.br?.body.length ?? 0)}), rendered in ${fmt(renderMs)} ms and made a
Representation (hash, gzip, brotli in the thread pool) in ${fmt(repMs)} ms, once. Servers:
**ours** = express 5 + \`sendRepresentation\`; **(a)** = express 5 \`res.send\` of the same bytes
from memory with a precomputed ETag (express then answers 304 itself); **(b)** = bare \`node:http\`
writing the same bytes; **(c)** = express rebuilding the feed with \`feed\` on every request
(given the newest article date, else no request could ever get a 304). "200" = GET without
Accept-Encoding, so every server sends the same identity bytes; "304" = GET with the server's own
ETag in If-None-Match.

Load: autocannon in a child process, ${connections} connections, 127.0.0.1 only, ${warmupSeconds} s warm-up
per server and path, then ${seconds} s per run. Other work on this machine makes single runs noisy,
so ours runs right next to each baseline (alternating which goes first) in each of ${rounds} rounds:
a ratio is the median of its ${rounds} paired ratios, a req/s figure the median of its runs.

| path | ours req/s | ours ÷ (a) express | ours ÷ (b) node:http | ours ÷ (c) naive |
|---|---:|---:|---:|---:|
${paths200304
  .map(
    (path) =>
      `| ${path} | ${fmt(rps("ours", path))} | ${fmt(ratio(path, "a"), 2)}× | ${fmt(ratio(path, "b"), 2)}× | ${fmt(ratio(path, "c"), 1)}× |`,
  )
  .join("\n")}

Targets: ${targets.map((t) => `${t.what}: ${metOrMissed(t.ok)}`).join("; ")}.

CPU cost, a cross-check that other load on the machine barely moves: the servers' process CPU time
per request of the baseline ÷ ours (median of the pairs; > 1 = ours is cheaper):
${paths200304
  .map(
    (path) =>
      `${path}: (a) ${fmt(cpuRatio(path, "a"), 2)}×, (b) ${fmt(cpuRatio(path, "b"), 2)}×, (c) ${fmt(cpuRatio(path, "c"), 1)}×`,
  )
  .join("; ")}.

Paired req/s ratios per round: ${paths200304
  .flatMap((path) =>
    baselines.map(
      (baseline) =>
        `${path} ÷ (${baseline}) ${pairRatios[path][baseline].map((x) => fmt(x, 2)).join(" / ")}`,
    ),
  )
  .join("; ")}.

| server | path | req/s (median) | each run | p50 ms | p99 ms | MB/s | requests | CPU µs/request |
|---|---|---:|---:|---:|---:|---:|---:|---:|
${names
  .flatMap((name) =>
    paths200304.map((path) => {
      const r = results[name][path];
      return r === undefined
        ? ""
        : `| ${servers[name].label} | ${path} | ${fmt(r.requestsPerSecond)} | ${runs[name][path].map((x) => fmt(x.requestsPerSecond)).join(" / ")} | ${r.p50} | ${r.p99} | ${fmt(r.bytesPerSecond / 1e6, 1)} | ${fmt(r.total)} | ${fmt(r.cpuPerRequest, 1)} |`;
    }),
  )
  .join("\n")}
`;

const docPath = join(root, "docs", "BENCHMARKS.md");
const doc = existsSync(docPath) ? readFileSync(docPath, "utf8") : "# Benchmarks\n";
const heading = "## Feeds (bench/feeds.ts)";
const start = doc.indexOf(heading);
let next = start === -1 ? -1 : doc.indexOf("\n## ", start + heading.length);
if (next !== -1) next += 1;
const updated =
  start === -1
    ? `${doc.trimEnd()}\n\n${section}`
    : `${doc.slice(0, start)}${section}${next === -1 ? "" : `\n${doc.slice(next)}`}`;
writeFileSync(docPath, updated);
// Biome formats Markdown too (aligned table columns); keep the file as `npm run check` wants it.
spawnSync(join(root, "node_modules", ".bin", "biome"), ["format", "--write", docPath], {
  stdio: "ignore",
});
console.log(`\n${section}`);
console.log(`Wrote ${docPath}.`);
if (targets.some((t) => !t.ok)) process.exitCode = 1;
