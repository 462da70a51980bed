/**
 * The hot paths at the bare-server limit (issue 17.4): requests/s of a whole Herald process
 * (with `npm start`'s V8 flags) on a feed, the home page and an article page, 200 and 304,
 * against a bare `node:http` process serving the same bytes with the same headers from memory,
 * measured from outside by wrk, in pairs.
 * Writes the "## Hot paths (bench/hot-paths.ts)" section of docs/BENCHMARKS.md.
 *
 *   npx node bench/hot-paths.ts   (BENCH_SECONDS=2, BENCH_ROUNDS=5, BENCH_CONNECTIONS=10)
 *
 * Needs wrk (`apt-get install wrk`, `brew install wrk`): the load must outrun the server, or the
 * benchmark measures the load. autocannon, which the other benchmarks use, is JavaScript too:
 * on a core of its own it spent a full core reading the 30 KB home page at half the rate a
 * server on the other core could answer, so both servers idled a third of the time and the
 * ratio was the client's noise (2026-12-07, below).
 *
 * Each round starts a new Herald process (on the store the first start imported, as an instance
 * is restarted) and a new bare one, and loads the two at the same time, both on core 1, each
 * with its own wrk on core 0: whatever else the machine runs then falls on both alike. Two
 * identical bare servers measured that way came out at 0.89–1.09× of each other (four pairs of
 * processes, 2026-12-08), one after the other at 0.56–1.41×. And what a pair of processes
 * draws matters: one pair's rounds agreed within 0.06, while with a new pair per round Herald's
 * ratio went from 0.84× to 1.53× within one run; so a round is a new pair. BENCH_TOGETHER=0
 * loads them one after the other instead.
 *
 * Before each round's measurements its Herald serves a few seconds of its other requests,
 * through express (the actor, WebFinger, NodeInfo, a 404): they train the Node code the hot
 * paths share, and a process that served nothing else was faster than any running instance
 * (BENCH_MIX=0 for it).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import {
  freePort,
  type HeraldProcess,
  makeFolders,
  spawnHerald,
} from "../tests/helpers/herald-spawn.ts";
import { recordCurve, verdict } from "./cost-curves.ts";
import { median, metOrMissed, npmStartFlags, writeSection } from "./report.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const together = process.env.BENCH_TOGETHER !== "0";
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
// One port for every round's Herald: its public URL, in the bytes, stays the same.
const heraldPort = await freePort();
const startHerald = () =>
  spawnHerald(folders, {
    port: heraldPort,
    // The default schedule (spawnHerald scans every second, which would be a load of its own).
    env: { NODE_OPTIONS: flags.join(" "), SCAN_SCHEDULE: "* * * * *" },
  });
type Server = "herald" | "bare";
/** One round's two processes, each pinned to core 1. */
interface Pair {
  readonly herald: HeraldProcess;
  readonly bare: ChildProcess;
  readonly servers: Record<Server, { readonly port: number; readonly pid: number }>;
}
let pair: Pair | undefined;
const stopPair = async () => {
  pair?.bare.kill();
  await pair?.herald.stop();
  pair = undefined;
};
try {
  // The first start imports the articles; every round then starts Herald again on that store,
  // as a running instance is restarted, and reads the bytes the bare server copies from it.
  const first = await startHerald();
  const prepared: Record<string, object> = {};
  const etags = {} as Record<Route, string>;
  try {
    for (const route of Object.keys(paths) as Route[]) {
      const full = await get(first.port, paths[route]);
      const etag = full.rawHeaders[full.rawHeaders.findIndex((h) => /^etag$/i.test(h)) + 1] ?? "";
      const cached = await get(first.port, paths[route], { "if-none-match": etag });
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
  } finally {
    await first.stop();
  }
  const routesFile = join(folders.root, "routes.json");
  writeFileSync(routesFile, JSON.stringify(prepared));

  /** A new Herald process and a new bare one, checked to send the same bytes. */
  const startPair = async (): Promise<Pair> => {
    const herald = await startHerald();
    const barePort = await freePort();
    const bare = spawn(
      process.execPath,
      [...flags, "-e", bareServer, String(barePort), routesFile],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    pair = {
      herald,
      bare,
      servers: {
        herald: { port: herald.port, pid: herald.child.pid ?? 0 },
        bare: { port: barePort, pid: bare.pid ?? 0 },
      },
    };
    await new Promise((resolve) => bare.stdout?.once("data", resolve));
    // Same bytes, and a 304 for the ETag from both: checked, not assumed.
    for (const route of Object.keys(paths) as Route[]) {
      const [ours, theirs] = await Promise.all(
        [herald.port, barePort].map((port) => get(port, paths[route])),
      );
      if (!ours?.body.equals(theirs?.body ?? Buffer.alloc(0))) {
        throw new Error(`${paths[route]}: the bare server's bytes differ.`);
      }
      for (const port of [herald.port, barePort]) {
        const cached = await get(port, paths[route], { "if-none-match": etags[route] });
        if (cached.status !== 304) {
          throw new Error(`${paths[route]} on port ${port}: ${cached.status} for its ETag.`);
        }
      }
    }
    pin(pair.servers.herald.pid);
    pin(pair.servers.bare.pid);
    return pair;
  };

  const measure = async (
    { servers }: Pair,
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
  type Measured = Awaited<ReturnType<typeof measure>>;
  /** Herald and the bare server on the same load: at the same time, or one after the other. */
  const measureBoth = async (
    current: Pair,
    round: number,
    route: Route,
    kind: Kind,
    duration: number,
    readers = connections,
  ): Promise<Record<Server, Measured>> => {
    if (together) {
      const [herald, bare] = await Promise.all(
        (["herald", "bare"] as const).map((server) =>
          measure(current, server, route, kind, duration, readers),
        ),
      );
      return { herald: herald as Measured, bare: bare as Measured };
    }
    // Alternating who goes first, so the machine's other load falls on both alike.
    const order = round % 2 === 0 ? (["herald", "bare"] as const) : (["bare", "herald"] as const);
    const both = {} as Record<Server, Measured>;
    for (const server of order)
      both[server] = await measure(current, server, route, kind, duration, readers);
    return both;
  };

  const cases = (Object.keys(paths) as Route[]).flatMap((route) =>
    (["200", "304"] as const).map((kind) => ({ route, kind })),
  );
  const results = cases.map(() => ({
    herald: [] as number[],
    bare: [] as number[],
    ratios: [] as number[],
    cpu: [] as number[],
    busy: { herald: [] as number[], bare: [] as number[] },
  }));
  // The same pairs for more and more readers of the home page.
  const sweep = readerCounts.map(() => ({
    herald: [] as number[],
    bare: [] as number[],
    ratios: [] as number[],
    p99: { herald: [] as number[], bare: [] as number[] },
  }));
  const loads: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const current = await startPair();
    for (const { route, kind } of cases) await measureBoth(current, round, route, kind, 1);
    // A real instance serves more than its hot paths, and what goes through express also trains
    // the Node code the hot paths share: measured after it, as users meet it (BENCH_MIX=0
    // leaves it out).
    if (mixed) {
      for (const [path, ...header] of otherRequests(current.herald.origin.host)) {
        const url = `http://127.0.0.1:${current.servers.herald.port}${path}`;
        await wrk(["-t1", "-c4", `-d${mixSeconds}s`, ...header, url]);
      }
    }
    loads.push(loadavg()[0] ?? 0);
    for (const [i, { route, kind }] of cases.entries()) {
      const both = await measureBoth(current, round, route, kind, seconds);
      const r = results[i];
      r?.herald.push(both.herald.rps);
      r?.bare.push(both.bare.rps);
      r?.ratios.push(both.herald.rps / both.bare.rps);
      r?.cpu.push(both.bare.cpuMicros / both.herald.cpuMicros);
      r?.busy.herald.push(both.herald.busy);
      r?.busy.bare.push(both.bare.busy);
      console.log(
        `round ${round + 1}/${rounds} ${paths[route]} ${kind}: Herald ${both.herald.rps.toFixed(0)}, bare ${both.bare.rps.toFixed(0)} req/s (${(both.herald.rps / both.bare.rps).toFixed(2)}x)`,
      );
    }
    for (const [i, readers] of readerCounts.entries()) {
      const both = await measureBoth(current, round, "home", "200", seconds, readers);
      const r = sweep[i];
      r?.herald.push(both.herald.rps);
      r?.bare.push(both.bare.rps);
      r?.ratios.push(both.herald.rps / both.bare.rps);
      r?.p99.herald.push(both.herald.p99);
      r?.p99.bare.push(both.bare.p99);
      console.log(
        `round ${round + 1}/${rounds} ${readers} readers: Herald ${both.herald.rps.toFixed(0)}, bare ${both.bare.rps.toFixed(0)} req/s`,
      );
    }
    await stopPair();
  }

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
  const settings = `${together ? "" : "BENCH_TOGETHER=0 "}${mixed ? "" : "BENCH_MIX=0 "}${rounds === 5 ? "" : `BENCH_ROUNDS=${rounds} `}${seconds === 2 ? "" : `BENCH_SECONDS=${seconds} `}`;
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

Load: wrk (one thread) in its own process, ${connections} connections, 127.0.0.1 only${pinned ? " (the servers pinned to core 1, wrk to core 0, with `taskset`)" : ""}; "200" = GET without Accept-Encoding (identity bytes), "304" = GET with the ETag in If-None-Match. ${rounds} rounds, each with a new Herald process (restarted on the imported store) and a new bare one, of ${seconds} s per case, ${together ? "the two at the same time on core 1, each with its own wrk, so that other work on the machine falls on both alike" : "the two right after each other (alternating who goes first)"}; a ratio is the median of the rounds' paired ratios. Why: two identical bare servers measured this way came out at 0.89–1.09× of each other, one after the other at 0.56–1.41×, and the rounds of one pair of processes agreed within 0.06 where new pairs spread from 0.84× to 1.53× (2026-12-08).${mixed ? ` Before each round's measurements, Herald served ${mixSeconds} s each of what else an instance serves, through express (the actor as ActivityPub, WebFinger, NodeInfo, an article with a query string, a 404), as a running instance has.` : " Herald served nothing but these paths before (BENCH_MIX=0)."} Load average as the rounds began (median): ${median(loads).toFixed(1)} on 2 cores (other engineers' work).

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
  await stopPair();
  folders.remove();
}
