/**
 * The hot paths at the bare-server limit (issue 17.4): requests/s of a whole Herald process
 * (with `npm start`'s V8 flags) on a feed, the home page and an article page, 200 and 304,
 * against a bare `node:http` process serving the same bytes with the same headers from memory,
 * measured from outside by wrk, in pairs.
 * Writes the "## Hot paths (bench/hot-paths.ts)" section of docs/BENCHMARKS.md.
 *
 *   npx node bench/hot-paths.ts   (BENCH_SECONDS=3, BENCH_ROUNDS=3, BENCH_CONNECTIONS=10)
 *
 * Needs wrk (`apt-get install wrk`, `brew install wrk`): the load must outrun the server, or the
 * benchmark measures the load. autocannon, which the other benchmarks use, is JavaScript too:
 * on a core of its own it spent a full core reading the 30 KB home page at half the rate a
 * server on the other core could answer, so both servers idled a third of the time and the
 * ratio was the client's noise (2026-12-07, below).
 *
 * Before the rounds Herald serves a few seconds of its other requests, through express (the
 * actor, WebFinger, NodeInfo, a 404): they train the Node code the hot paths share, and a
 * process that served nothing else was faster than any running instance (BENCH_MIX=0 for it).
 *
 * BENCH_TOGETHER=1 loads the two servers of a pair at the same time instead of one after the
 * other (both on core 1, each with its own wrk on core 0): whatever else the machine runs then
 * falls on both alike, which makes the CPU column steadier under shared load.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { freePort, makeFolders, spawnHerald } from "../tests/helpers/herald-spawn.ts";
import { recordCurve, verdict } from "./cost-curves.ts";
import { metOrMissed, npmStartFlags, writeSection } from "./report.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const together = process.env.BENCH_TOGETHER === "1";
const mixed = process.env.BENCH_MIX !== "0";
const mixSeconds = 2;
/** What Herald on `host` serves through express besides the hot paths, loaded before the rounds. */
const otherRequests = (host: string): readonly (readonly string[])[] => [
  ["/users/news", "-H", "Accept: application/activity+json"],
  [`/.well-known/webfinger?resource=acct:news@${host}`],
  ["/nodeinfo/2.1"],
  ["/articles/story-1?from=mastodon"],
  ["/no-such-page"],
];
const target = 0.9;
/** Concurrent readers of the home page (issue 17.5), each size measured the same way. */
const readerCounts = [10, 100, 400];
const articleCount = 200;
const paths = { feed: "/feed.xml", home: "/", article: "/articles/story-1" } as const;
type Route = keyof typeof paths;
type Kind = "200" | "304";

interface Answer {
  readonly status: number;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
        }),
      );
    })
      .on("error", reject)
      .end();
  });
}

/** The headers a server chose, without those Node adds to every response. */
function ownHeaders(raw: readonly string[]): string[] {
  const own: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!/^(date|connection|keep-alive)$/i.test(name)) own.push(name, raw[i + 1] as string);
  }
  return own;
}

// The bare server: a lookup by URL, one comparison, one writeHead of a prepared header list.
const bareServer = `
const { createServer } = require("node:http");
const routes = new Map(Object.entries(JSON.parse(require("node:fs").readFileSync(process.argv.at(-1), "utf8")))
  .map(([path, r]) => [path, { ...r, body: Buffer.from(r.body, "base64") }]));
createServer((req, res) => {
  const r = routes.get(req.url);
  if (r === undefined) { res.writeHead(404); res.end(); return; }
  if (req.headers["if-none-match"] === r.etag) { res.writeHead(304, r.notModified); res.end(); return; }
  res.writeHead(200, r.headers);
  res.end(r.body);
}).listen(Number(process.argv.at(-2)), "127.0.0.1", () => process.stdout.write("listening\\n"));`;

interface Load {
  readonly rps: number;
  /** Milliseconds. */
  readonly p99: number;
  readonly total: number;
  /** Socket errors, timeouts and answers other than 2xx or 3xx. */
  readonly errors: number;
}

/** wrk's report, read: requests/s, the 99th percentile's latency, the count, the errors. */
function readWrk(out: string): Load {
  const number = (pattern: RegExp) => Number(pattern.exec(out)?.[1] ?? Number.NaN);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const unit = { us: 0.001, ms: 1, s: 1000 }[(p99?.[2] ?? "ms") as "us" | "ms" | "s"];
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const load = {
    rps: number(/^Requests\/sec:\s+([\d.]+)/m),
    p99: Number(p99?.[1] ?? Number.NaN) * unit,
    total: number(/^\s*(\d+) requests in /m),
    errors:
      (Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) || 0) +
      (socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0)),
  };
  if (!Number.isFinite(load.rps) || !Number.isFinite(load.total) || !Number.isFinite(load.p99)) {
    throw new Error(`Could not read wrk's report:\n${out}`);
  }
  return load;
}

/**
 * With `taskset` and two cores or more, the server under load runs on core 1 and the load on
 * core 0, for both servers alike: without it, the two share the cores as the scheduler likes,
 * and the rounds' spread is the scheduler's more than the servers'.
 */
const pinned = cpus().length >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
function pin(pid: number): void {
  if (pinned) spawnSync("taskset", ["-a", "-p", "-c", "1", String(pid)], { stdio: "ignore" });
}

/** wrk with `args`, on core 0 when pinned; its report. */
function wrk(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const command = pinned ? ["taskset", "-c", "0", "wrk"] : ["wrk"];
    const proc = spawn(command[0] as string, [...command.slice(1), ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    proc.on("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "ENOENT"
          ? new Error("bench/hot-paths.ts needs wrk: apt-get install wrk (or brew install wrk).")
          : error,
      ),
    );
    proc.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}:\n${out}`)),
    );
  });
}

/** utime + stime of a process, in clock ticks (1/100 s on Linux). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

// --- servers ---------------------------------------------------------------------------------

const folders = makeFolders();
for (let i = 0; i < articleCount; i++) {
  writeFileSync(
    join(folders.articles, `story-${i}.md`),
    `---\ntitle: Story ${i}\ntags: [news, tag-${i % 10}]\n---\n${"A paragraph of the story. ".repeat(60)}\n`,
  );
}
// With `npm start`'s V8 flags, Herald and the bare server alike: the two differ in their code only.
const flags = npmStartFlags();
const herald = await spawnHerald(folders, {
  // The default schedule (spawnHerald scans every second, which would be a load of its own).
  env: { NODE_OPTIONS: flags.join(" "), SCAN_SCHEDULE: "* * * * *" },
});
let bare: ChildProcess | undefined;
try {
  const prepared: Record<string, object> = {};
  const etags = {} as Record<Route, string>;
  for (const route of Object.keys(paths) as Route[]) {
    const full = await get(herald.port, paths[route]);
    const etag = full.rawHeaders[full.rawHeaders.findIndex((h) => /^etag$/i.test(h)) + 1] ?? "";
    const cached = await get(herald.port, paths[route], { "if-none-match": etag });
    if (full.status !== 200 || cached.status !== 304) {
      throw new Error(`${paths[route]}: ${full.status}, then ${cached.status}.`);
    }
    etags[route] = etag;
    prepared[paths[route]] = {
      etag,
      headers: ownHeaders(full.rawHeaders),
      notModified: ownHeaders(cached.rawHeaders),
      body: full.body.toString("base64"),
    };
  }
  const routesFile = join(folders.root, "routes.json");
  writeFileSync(routesFile, JSON.stringify(prepared));
  const barePort = await freePort();
  bare = spawn(process.execPath, [...flags, "-e", bareServer, String(barePort), routesFile], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve) => bare?.stdout?.once("data", resolve));
  // Same bytes, same headers: checked, not assumed.
  for (const route of Object.keys(paths) as Route[]) {
    const [ours, theirs] = await Promise.all(
      [herald.port, barePort].map((port) => get(port, paths[route])),
    );
    if (!ours?.body.equals(theirs?.body ?? Buffer.alloc(0))) {
      throw new Error(`${paths[route]}: the bare server's bytes differ.`);
    }
  }

  const servers = {
    herald: { port: herald.port, pid: herald.child.pid ?? 0 },
    bare: { port: barePort, pid: bare.pid ?? 0 },
  };
  pin(servers.herald.pid);
  pin(servers.bare.pid);
  type Server = keyof typeof servers;
  const measure = async (
    server: Server,
    route: Route,
    kind: Kind,
    duration: number,
    readers = connections,
  ) => {
    const { port, pid } = servers[server];
    // The answer to each request was checked above (200, then 304 with the ETag); wrk counts
    // anything but a 2xx or 3xx as an error.
    const header = kind === "304" ? ["-H", `If-None-Match: ${etags[route]}`] : [];
    const before = cpuTicks(pid);
    // With hundreds of connections opened at once, a few wait out a dropped SYN (1 s): a slow
    // connect, not a failed request, so the timeout is well above wrk's 2 s.
    const args = [
      "-t1",
      `-c${readers}`,
      `-d${duration}s`,
      "--timeout",
      "10s",
      "--latency",
      ...header,
    ];
    const load = readWrk(await wrk([...args, `http://127.0.0.1:${port}${paths[route]}`]));
    const ticks = cpuTicks(pid) - before;
    if (load.errors > 0 || load.total === 0) {
      throw new Error(`${server} ${paths[route]} ${kind}: ${JSON.stringify(load)}`);
    }
    // The server's CPU per request, and how busy it kept its core (100% = the server is the limit).
    const cpuMicros = (ticks * 10_000) / load.total;
    return { rps: load.rps, p99: load.p99, cpuMicros, busy: ticks / duration };
  };

  const cases = (Object.keys(paths) as Route[]).flatMap((route) =>
    (["200", "304"] as const).map((kind) => ({ route, kind })),
  );
  for (const { route, kind } of cases) {
    for (const server of ["herald", "bare"] as const) await measure(server, route, kind, 1);
  }
  // A real instance serves more than its hot paths, and what goes through express also trains
  // the Node code the hot paths share: measured after it, as users meet it (BENCH_MIX=0 leaves
  // it out).
  if (mixed) {
    for (const [path, ...header] of otherRequests(herald.origin.host)) {
      const url = `http://127.0.0.1:${servers.herald.port}${path}`;
      await wrk(["-t1", "-c4", `-d${mixSeconds}s`, ...header, url]);
    }
  }
  const load = loadavg()[0] ?? 0;
  const results = cases.map(() => ({
    herald: [] as number[],
    bare: [] as number[],
    ratios: [] as number[],
    cpu: [] as number[],
    busy: { herald: [] as number[], bare: [] as number[] },
  }));
  // Pairs, alternating who goes first, so the machine's other load falls on both alike.
  for (let round = 0; round < rounds; round++) {
    for (const [i, { route, kind }] of cases.entries()) {
      const order = round % 2 === 0 ? (["herald", "bare"] as const) : (["bare", "herald"] as const);
      const pair = {} as Record<
        Server,
        { rps: number; p99: number; cpuMicros: number; busy: number }
      >;
      if (together) {
        [pair.herald, pair.bare] = await Promise.all([
          measure("herald", route, kind, seconds),
          measure("bare", route, kind, seconds),
        ]);
      } else {
        for (const server of order) pair[server] = await measure(server, route, kind, seconds);
      }
      const r = results[i];
      r?.herald.push(pair.herald.rps);
      r?.bare.push(pair.bare.rps);
      r?.ratios.push(pair.herald.rps / pair.bare.rps);
      r?.cpu.push(pair.bare.cpuMicros / pair.herald.cpuMicros);
      r?.busy.herald.push(pair.herald.busy);
      r?.busy.bare.push(pair.bare.busy);
      console.log(
        `round ${round + 1}/${rounds} ${paths[route]} ${kind}: Herald ${pair.herald.rps.toFixed(0)}, bare ${pair.bare.rps.toFixed(0)} req/s (${(pair.herald.rps / pair.bare.rps).toFixed(2)}x)`,
      );
    }
  }

  // The same pairs for more and more readers of the home page.
  const sweep = readerCounts.map(() => ({
    herald: [] as number[],
    bare: [] as number[],
    ratios: [] as number[],
    p99: { herald: [] as number[], bare: [] as number[] },
  }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, readers] of readerCounts.entries()) {
      const order = round % 2 === 0 ? (["herald", "bare"] as const) : (["bare", "herald"] as const);
      const pair = {} as Record<Server, { rps: number; p99: number }>;
      if (together) {
        [pair.herald, pair.bare] = await Promise.all([
          measure("herald", "home", "200", seconds, readers),
          measure("bare", "home", "200", seconds, readers),
        ]);
      } else {
        for (const server of order) {
          pair[server] = await measure(server, "home", "200", seconds, readers);
        }
      }
      const r = sweep[i];
      r?.herald.push(pair.herald.rps);
      r?.bare.push(pair.bare.rps);
      r?.ratios.push(pair.herald.rps / pair.bare.rps);
      r?.p99.herald.push(pair.herald.p99);
      r?.p99.bare.push(pair.bare.p99);
      console.log(
        `round ${round + 1}/${rounds} ${readers} readers: Herald ${pair.herald.rps.toFixed(0)}, bare ${pair.bare.rps.toFixed(0)} req/s`,
      );
    }
  }

  const median = (list: readonly number[]) =>
    [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;
  const fixed = (n: number) => n.toFixed(2);
  const percent = (n: number) => `${Math.round(n)}%`;
  const rows = cases.map(({ route, kind }, i) => {
    const r = results[i] ?? {
      herald: [],
      bare: [],
      ratios: [],
      cpu: [],
      busy: { herald: [], bare: [] },
    };
    const busy = `${percent(median(r.busy.herald))} / ${percent(median(r.busy.bare))}`;
    const ratio = median(r.ratios);
    return {
      line: `| ${route} \`${paths[route]}\` | ${kind} | ${Math.round(median(r.herald)).toLocaleString("en")} | ${Math.round(median(r.bare)).toLocaleString("en")} | ${fixed(ratio)}× (${r.ratios.map(fixed).join(" / ")}) | ${fixed(median(r.cpu))}× | ${busy} | ${metOrMissed(ratio >= target)} |`,
      met: ratio >= target,
    };
  });
  const met = rows.filter((row) => row.met).length;
  const readerRows = readerCounts.map((readers, i) => {
    const r = sweep[i] ?? { herald: [], bare: [], ratios: [], p99: { herald: [], bare: [] } };
    return `| ${readers} | ${Math.round(median(r.herald)).toLocaleString("en")} | ${Math.round(median(r.bare)).toLocaleString("en")} | ${fixed(median(r.ratios))}× (${r.ratios.map(fixed).join(" / ")}) | ${median(r.p99.herald).toFixed(1)} / ${median(r.p99.bare).toFixed(1)} ms |`;
  });
  // The cost curves' rows: the median of the paired ratios, with the two servers' median rates.
  const versus = (r: { herald: number[]; bare: number[]; ratios: number[] }) => {
    const ratio = median(r.ratios);
    const rates = `${Math.round(median(r.herald)).toLocaleString("en")} ÷ ${Math.round(median(r.bare)).toLocaleString("en")} req/s`;
    return `${fixed(ratio)}× (${rates}) ${verdict(ratio, { atLeast: target })}`;
  };
  const settings = `${together ? "BENCH_TOGETHER=1 " : ""}${mixed ? "" : "BENCH_MIX=0 "}${rounds === 3 ? "" : `BENCH_ROUNDS=${rounds} `}`;
  const command = `${settings}node bench/hot-paths.ts`;
  recordCurve(
    "hotPaths",
    cases.flatMap(({ route, kind }, i) => {
      const r = results[i];
      return r === undefined
        ? []
        : [{ order: i, cells: [`${route} \`${paths[route]}\``, kind, versus(r)] }];
    }),
    command,
  );
  recordCurve(
    "readers",
    readerCounts.flatMap((readers, i) => {
      const r = sweep[i];
      if (r === undefined) return [];
      const p99 = `${median(r.p99.herald).toFixed(1)} / ${median(r.p99.bare).toFixed(1)} ms`;
      return [{ order: readers, cells: [String(readers), versus(r), p99] }];
    }),
    command,
  );
  const body = `Command: \`${settings}npx node bench/hot-paths.ts\` (${articleCount} articles; Herald is \`node ${flags.join(" ")} src/main.ts\` as \`npm start\` runs it, embedded SQLite, federation mounted; the baseline is a bare \`node:http\` process answering from a \`Map\` with the same bytes and the same headers, copied from Herald's own answers).

Load: wrk (one thread) in its own process, ${connections} connections, 127.0.0.1 only${pinned ? " (the servers pinned to core 1, wrk to core 0, with `taskset`)" : ""}; "200" = GET without Accept-Encoding (identity bytes), "304" = GET with the ETag in If-None-Match. ${rounds} rounds of ${seconds} s per server and case, ${together ? "Herald and bare at the same time, each with its own wrk, so that other work on the machine falls on both alike" : "Herald and bare right after each other (alternating who goes first)"}; a ratio is the median of the paired ratios.${mixed ? ` Before the rounds, Herald served ${mixSeconds} s each of what else an instance serves, through express (the actor as ActivityPub, WebFinger, NodeInfo, an article with a query string, a 404), as a running instance has.` : " Herald served nothing but these paths before (BENCH_MIX=0)."} Load average when the rounds began: ${load.toFixed(1)} on 2 cores (other engineers' work).

| path | answer | Herald req/s | bare req/s | Herald ÷ bare (rounds) | CPU per request, bare ÷ Herald | core busy, Herald / bare | target ≥ ${target}× |
|---|---|---:|---:|---:|---:|---:|---|
${rows.map((row) => row.line).join("\n")}

Target (each of feeds and pages, 200 and 304, ≥ ${target}× bare \`node:http\`): ${met} of ${rows.length} met. "Core busy" is the server's CPU over the round's time${pinned ? " on its one core" : ""}: near ${together ? "50% (the two share core 1)" : "100%"} the server is the limit, as the target means; well below it, the load is.

Where the rest goes (\`perf record\` of both servers under the home page's 304 load, 2026-12-07): Herald's own JavaScript in the request path (the look-ups, the header list, the conditional check) is about 3% of its samples, and both servers spend most of theirs in the kernel's socket reads and writes and in Node's HTTP and stream code. Herald's extra is spread thinly over that shared code, which in Herald's process runs over more kinds of objects (its zlib streams, outgoing sockets, the requests express routes): V8's megamorphic property look-ups (\`LoadIC_Megamorphic\`) were 2.0–2.2% of Herald's samples against 0.6–1.1% of the bare server's. What each session tried on the way, with its measurements: docs/benchmarks-history.md, "Hot paths".

**Concurrent readers**: the home page (200, identity), the same pairs with more connections.

| readers (connections) | Herald req/s | bare req/s | Herald ÷ bare (rounds) | p99 latency, Herald / bare |
|---:|---:|---:|---:|---:|
${readerRows.join("\n")}`;
  console.log(body);
  writeSection("Hot paths (bench/hot-paths.ts)", body);
  if (met < rows.length) process.exitCode = 1;
} finally {
  bare?.kill();
  await herald.stop();
  folders.remove();
}
