/**
 * Fan-out benchmark: a real Herald process sends one new story (`Create`), its correction
 * (`Update`) and its removal (`Delete`) to the followers on `BENCH_HOSTS` fake Mastodon-like
 * servers (1,000 by default; each a distinct loopback host:port that verifies every signature),
 * `BENCH_FOLLOWERS_PER_HOST` followers on each (10 by default: 100,000 followers on 10,000
 * servers), so one delivery to each server's shared inbox serves them all. Each fan-out is paired
 * with a bare script in its own process that signs and POSTs the same activity to the same
 * inboxes, right after it, on the same machine.
 *
 *   node bench/fanout.ts                        (1,000 servers, 10,000 followers, 3 rounds)
 *   BENCH_HOSTS=10000 node bench/fanout.ts      (10,000 servers, 100,000 followers, 1 round)
 *   BENCH_PROFILE=dir …                         (Herald writes a CPU profile into dir)
 *   BENCH_HEAP_MB=none …                        (npm start's V8 flags alone, no heap limit)
 */
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { openSqliteArticleStore } from "../src/backends/sqlite/articles.ts";
import { openSqliteFollowerStore } from "../src/backends/sqlite/followers.ts";
import { IDLE_CONNECTION_MS } from "../src/federation/delivery/outgoing.ts";
import { DEFAULT_QUIET_MS } from "../src/watch.ts";
import { freePort, makeFolders, spawnHerald } from "../tests/helpers/herald-spawn.ts";
import { ratioCell, recordCurve, verdict } from "./cost-curves.ts";
import type { BaselineJob, BaselineResult } from "./fanout-baseline.ts";
import type { FromReceivers, ReceiverHost, ToReceivers, Wanted } from "./fanout-receivers.ts";
import { now } from "./fanout-receivers.ts";
import {
  deployedEnvText,
  deployedHeapFlags,
  deployedNodeFlags,
  median,
  metOrMissed,
  writeSection,
} from "./report.ts";

const hostCount = Number(process.env.BENCH_HOSTS ?? 1000);
const perHost = Number(process.env.BENCH_FOLLOWERS_PER_HOST ?? 10);
const roundCount = Number(process.env.BENCH_ROUNDS ?? (hostCount > 1000 ? 1 : 3));
const concurrency = 32;
// As deployed (`deployedHeapFlags()`): V8 collects as it goes instead of letting the garbage of
// thousands of deliveries pile up.
const heapFlags = deployedHeapFlags();
const nodeFlags = deployedNodeFlags();
/** Servers per receiver process (each server holds a listening socket and its connections). */
const hostsPerProcess = 2500;
const kinds = ["Create", "Update", "Delete"] as const;
type Kind = (typeof kinds)[number];

interface Run {
  readonly kind: Kind;
  readonly round: number;
  /** From writing the file to the last server holding the activity (s). */
  readonly file: number;
  /** From Herald's "Queued …" line to the last server holding it (s). */
  readonly queued: number;
  readonly baseline: number;
  /** CPU time of Herald's process during the fan-out, and of the baseline's during its run (ms). */
  readonly heraldCpu: number;
  /** The same for Herald's main thread alone, where its JavaScript runs (ms). */
  readonly heraldMainCpu: number;
  readonly baselineCpu: number;
}

const folders = makeFolders();
const receivers = await startReceivers();
const hosts = receivers.hosts;
seedFollowers(join(folders.data, "herald.sqlite"), hosts);
const heraldPort = await portNotIn(hosts);
const startHerald = () =>
  spawnHerald(folders, {
    port: heraldPort,
    env: {
      INBOX_RATE_LIMIT: "1000000",
      // The safety-net scan as deployed (every minute), not the tests' every second: a scan of
      // the whole folder that holds the scan lock when the watcher's comes, or finds the story
      // before the watcher's quiet time is over, is not what publishing a story looks like.
      SCAN_SCHEDULE: "* * * * *",
      NODE_OPTIONS: [
        ...nodeFlags,
        ...(process.env.BENCH_NODE_OPTIONS ? [process.env.BENCH_NODE_OPTIONS] : []),
        ...(process.env.BENCH_PROFILE
          ? [`--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}`]
          : []),
      ].join(" "),
    },
  });
const startBaseline = () =>
  fork(new URL("./fanout-baseline.ts", import.meta.url), {
    env: { ...process.env, BENCH_BASELINE: "1" },
  });
// Each round has a new Herald process (restarted on the same store, as an instance is) and a
// new baseline process: what a pair of processes draws moves a ratio by itself (on the hot
// paths, one pair's rounds agreed within 0.06 and new pairs' spread from 0.84× to 1.53×:
// docs/benchmarks-history.md, "Hot paths"), which one pair for every round would count as the
// code's.
let herald = await startHerald();
let baseline = startBaseline();
try {
  const signer = herald.origin.origin;
  const first = hosts[0]?.users[0]?.id ?? "";
  const job: Omit<BaselineJob, "activity"> = {
    inboxes: hosts.map((host) => host.sharedInbox),
    keyId: `${first}#main-key`,
    actor: first,
    concurrency,
  };
  /** The baseline, sending `activity` (as Herald's fan-out just delivered it). */
  const runBaseline = async (activity: string) => {
    const result = await ask<BaselineResult>(baseline, { ...job, activity });
    if ("error" in result) throw new Error(result.error);
    return { baseline: (result.end - result.start) / 1000, baselineCpu: result.cpu };
  };
  const rssBefore = rssOf(herald.child.pid);
  const peaks: number[] = [];

  // Warm-up, not measured: every server fetches Herald's key (as they would have when they
  // followed) and the baseline's, and both processes' code is compiled. A later round's new
  // processes warm up the same way (the servers have the keys by then).
  const warmUpNew = async (slug: string, name: string) => {
    const warm = await fanOut("Create", slug, () => write(slug, name), { name });
    await runBaseline(warm.body);
    return warm;
  };
  const warmUp = await warmUpNew("warm-up", "Warm-up");

  const runs: Run[] = [];
  const wanted: Wanted[] = [];
  for (let round = 1; round <= roundCount; round++) {
    if (round > 1) {
      peaks.push(peakRssOf(herald.child.pid));
      await herald.stop();
      baseline.kill();
      herald = await startHerald();
      baseline = startBaseline();
      await warmUpNew(`warm-up-${round}`, `Warm-up ${round}`);
    }
    const slug = `breaking-${round}`;
    const title = `Breaking ${round}`;
    const created = await fanOut("Create", slug, () => write(slug, title), { name: title });
    runs.push({ kind: "Create", round, ...created.times, ...(await runBaseline(created.body)) });
    const objectId = created.objectId;
    const updated = await fanOut("Update", slug, () => write(slug, title, "Corrected."), {
      objectId,
    });
    runs.push({ kind: "Update", round, ...updated.times, ...(await runBaseline(updated.body)) });
    const deleted = await fanOut("Delete", slug, () => rmSync(file(slug)), { objectId });
    runs.push({ kind: "Delete", round, ...deleted.times, ...(await runBaseline(deleted.body)) });
    wanted.push(
      { type: "Create", name: title, signer },
      { type: "Update", objectId, signer },
      { type: "Delete", objectId, signer },
    );
  }
  // Late duplicates would arrive within seconds (a retry, a second worker): wait, then count.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const counts = await Promise.all(wanted.map((w) => receivers.count(w)));
  const peakRss = Math.max(...peaks, peakRssOf(herald.child.pid));
  const body = report(runs, counts, { rssBefore, peakRss }, warmUp.times);
  writeSection(`Fan-out at ${hostCount.toLocaleString("en")} servers (bench/fanout.ts)`, body);
  recordCurves(runs, counts, peakRss);
  console.log(body);

  async function fanOut(
    kind: Kind,
    slug: string,
    change: () => void,
    target: Omit<Wanted, "type" | "signer">,
  ) {
    const pattern = new RegExp(`Queued ${kind} of ${slug}\\b`);
    const queued = herald.waitForLog(pattern, 600_000).then(now);
    const arrived = receivers.wait({ type: kind, signer, ...target });
    const cpu = cpuOf(herald.child.pid);
    const mainCpu = cpuOf(herald.child.pid, herald.child.pid);
    const started = now();
    change();
    const { at, objectId, body } = await arrived;
    const heraldCpu = cpuOf(herald.child.pid) - cpu;
    const heraldMainCpu = cpuOf(herald.child.pid, herald.child.pid) - mainCpu;
    const queuedAt = await queued;
    const times = {
      file: (at - started) / 1000,
      queued: (at - queuedAt) / 1000,
      heraldCpu,
      heraldMainCpu,
    };
    return { objectId, body, times };
  }
} finally {
  await herald.stop();
  baseline.kill();
  await receivers.close();
  folders.remove();
}

/** A free port on 127.0.0.1 that no fake server uses on another address (Herald listens on all). */
async function portNotIn(servers: readonly ReceiverHost[]): Promise<number> {
  const taken = new Set(servers.map((server) => new URL(server.sharedInbox).port));
  for (;;) {
    const port = await freePort();
    if (!taken.has(String(port))) return port;
  }
}

function file(slug: string): string {
  return join(folders.articles, `${slug}.md`);
}

function write(slug: string, title: string, more = ""): void {
  writeFileSync(file(slug), `# ${title}\n\nOne story, every follower.${more ? ` ${more}` : ""}\n`);
}

/** The followers, written into Herald's database before it starts, as if each had followed. */
function seedFollowers(path: string, servers: readonly ReceiverHost[]): void {
  const db = new DatabaseSync(path);
  openSqliteArticleStore(db); // the database as Herald makes it (its pages, its log)
  const followers = openSqliteFollowerStore(db);
  const since = Date.now() - 86_400_000;
  let n = 0;
  db.exec("BEGIN");
  for (const server of servers) {
    for (const user of server.users) {
      void followers.add({
        id: new URL(user.id),
        inbox: new URL(user.inbox),
        sharedInbox: new URL(server.sharedInbox),
        followId: new URL(`${user.id}#follows/herald`),
        createdAt: new Date(since + n++),
      });
    }
  }
  db.exec("COMMIT");
  db.close();
}

async function startReceivers() {
  const children: ChildProcess[] = [];
  const started: Promise<ReceiverHost[]>[] = [];
  for (let i = 0, left = hostCount; left > 0; i++, left -= hostsPerProcess) {
    const child = fork(new URL("./fanout-receivers.ts", import.meta.url), {
      env: {
        ...process.env,
        BENCH_RECEIVER_HOSTS: String(Math.min(left, hostsPerProcess)),
        // Our loopback range (../notes): 127.0.40.0/24 onward, one address per process.
        BENCH_RECEIVER_ADDRESS: `127.0.${40 + i}.1`,
        BENCH_RECEIVER_USERS: String(perHost),
      },
    });
    children.push(child);
    started.push(
      new Promise((resolve, reject) => {
        child.once("message", (m: FromReceivers) =>
          m.kind === "ready" ? resolve([...m.hosts]) : reject(new Error(JSON.stringify(m))),
        );
        child.once("exit", (code) => reject(new Error(`A receiver process exited (${code}).`)));
      }),
    );
  }
  const hosts = (await Promise.all(started)).flat();
  let nextId = 1;
  const call = (message: (id: number) => ToReceivers) =>
    Promise.all(
      children.map((child) => {
        const id = nextId++;
        return ask<FromReceivers>(child, message(id), (m) => "id" in m && m.id === id);
      }),
    );
  return {
    hosts,
    async wait(wanted: Wanted) {
      const answers = await call((id) => ({ cmd: "wait", id, wanted }));
      let at = 0;
      let objectId = "";
      let body = "";
      for (const a of answers) {
        if (a.kind !== "waited") throw new Error(`A receiver failed: ${JSON.stringify(a)}`);
        at = Math.max(at, a.at);
        objectId = a.objectId;
        body = a.body;
      }
      return { at, objectId, body };
    },
    async count(wanted: Wanted) {
      const answers = await call((id) => ({ cmd: "count", id, wanted }));
      return answers.flatMap((a) => (a.kind === "counted" ? a.counts : []));
    },
    async close() {
      await call((id) => ({ cmd: "close", id })).catch(() => {});
      for (const child of children) child.kill();
    },
  };
}

/** Sends `message` to `child` and resolves with its first answer that `accept`s. */
function ask<T>(child: ChildProcess, message: object, accept: (m: T) => boolean = () => true) {
  return new Promise<T>((resolve) => {
    const listener = (m: T) => {
      if (!accept(m)) return;
      child.off("message", listener);
      resolve(m);
    };
    child.on("message", listener);
    child.send(message);
  });
}

function status(pid: number | undefined, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0) / 1024;
}
/** User + system CPU time of a process so far (ms), all its threads, from /proc. */
function cpuOf(pid: number | undefined, thread?: number): number {
  const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
  const fields = readFileSync(path, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
function rssOf(pid: number | undefined): number {
  return status(pid, "VmRSS");
}
function peakRssOf(pid: number | undefined): number {
  return status(pid, "VmHWM");
}

/** The medians and counts the report and the cost curve give. */
function summarize(runs: readonly Run[], counts: readonly (readonly number[])[]) {
  const ratios = kinds.map((kind) => {
    const mine = runs.filter((r) => r.kind === kind);
    const file = median(mine.map((r) => r.file / r.baseline));
    return {
      kind,
      queued: median(mine.map((r) => r.queued / r.baseline)),
      file,
      /** The round whose ratio from the file write is the median. */
      medianRun: mine.find((r) => r.file / r.baseline === file) as Run,
    };
  });
  const once = kinds.map((kind, k) => {
    const mine = counts.filter((_, i) => i % kinds.length === k).flat();
    const exactly = mine.filter((n) => n === 1).length;
    return {
      kind,
      exactly,
      more: mine.filter((n) => n > 1).length,
      fewer: mine.filter((n) => n < 1).length,
      total: mine.length,
    };
  });
  const cpuMedian = {
    baseline: median(runs.map((r) => r.baselineCpu / hostCount)),
    herald: median(runs.map((r) => r.heraldCpu / hostCount)),
    heraldMain: median(runs.map((r) => r.heraldMainCpu / hostCount)),
  };
  return { ratios, once, cpuMedian, allOnce: once.every((o) => o.exactly === o.total) };
}

/** This size's row of the follower servers' cost curve. */
function recordCurves(
  runs: readonly Run[],
  counts: readonly (readonly number[])[],
  peakRss: number,
): void {
  const { ratios, cpuMedian, allOnce } = summarize(runs, counts);
  const followers = (hostCount * perHost).toLocaleString("en");
  recordCurve(
    "followers",
    [
      {
        order: hostCount,
        cells: [
          `${hostCount.toLocaleString("en")} (${followers})`,
          ...ratios.map((r) =>
            ratioCell(r.medianRun.file, r.medianRun.baseline, " s", { atMost: 1.5 }),
          ),
          `${cpuMedian.herald.toFixed(2)} / ${cpuMedian.baseline.toFixed(2)} ms`,
          `${peakRss.toFixed(0)} MB ${verdict(peakRss, { atMost: 300 })}`,
          `${allOnce ? "yes" : "no"} (${metOrMissed(allOnce)})`,
        ],
      },
    ],
    `BENCH_HOSTS=${hostCount} node bench/fanout.ts`,
  );
}

function report(
  runs: readonly Run[],
  counts: readonly (readonly number[])[],
  memory: { readonly rssBefore: number; readonly peakRss: number },
  warmUp: { readonly file: number; readonly heraldCpu: number },
): string {
  const rows = runs
    .map(
      (r) =>
        `| ${r.kind} | ${r.round} | ${r.baseline.toFixed(2)} | ${r.queued.toFixed(2)} | ${(r.queued / r.baseline).toFixed(2)}× | ${r.file.toFixed(2)} | ${(r.file / r.baseline).toFixed(2)}× | ${(r.baselineCpu / hostCount).toFixed(2)} / ${(r.heraldCpu / hostCount).toFixed(2)} (${(r.heraldMainCpu / hostCount).toFixed(2)}) |`,
    )
    .join("\n");
  const { ratios, once, cpuMedian, allOnce } = summarize(runs, counts);
  const followers = hostCount * perHost;
  return `Command: \`BENCH_HOSTS=${hostCount} node bench/fanout.ts\` (${hostCount.toLocaleString("en")} fake Mastodon-like servers, each its own loopback host:port verifying every signature, in ${Math.ceil(hostCount / hostsPerProcess)} process(es); ${followers.toLocaleString("en")} followers, ${perHost} on each server, so one delivery to each shared inbox serves them; ${roundCount} round(s) of one new story, its correction and its removal${roundCount > 1 ? ", each round with a new Herald process, restarted on the same store, and a new baseline process, both warmed up by a story of their own first" : ""}).

Per fan-out: **Herald** = \`${deployedEnvText()} node ${nodeFlags.join(" ")} src/main.ts\` (${heapFlags.length === 0 ? "`npm start`'s flags, no heap limit" : "`npm start`'s flags with the Docker image's heap limit"}; embedded SQLite), from its \`Queued …\` line (the scan found the change, loaded the followers and queued the activity) or from writing the file (the folder watcher waits for ${DEFAULT_QUIET_MS} ms of quiet first; the safety-net scan runs on its deployed schedule, every minute) to the last server holding the verified activity; **baseline** = right after, a bare script in its own process signing (RSA-2048, draft-cavage, as Mastodon) and POSTing the activity Herald just delivered (as a server received it, with the script's own id and actor) to the same ${hostCount.toLocaleString("en")} shared inboxes, ${concurrency} at a time, over keep-alive connections it opens for that run (as Herald, which closes a connection idle for ${IDLE_CONNECTION_MS} ms, finds none open from the round before).

| activity | round | baseline s | Herald from queued s | vs baseline | Herald from file s | vs baseline | CPU ms per delivery: baseline / Herald (its main thread) |
|---|---:|---:|---:|---:|---:|---:|---:|
${rows}

CPU per delivery (a cross-check the machine's other load barely moves: each process's own CPU time, all threads, divided by the ${hostCount.toLocaleString("en")} deliveries; Herald's includes loading the followers and queueing), median of all fan-outs: baseline ${cpuMedian.baseline.toFixed(2)} ms, Herald ${cpuMedian.herald.toFixed(2)} ms (${(cpuMedian.herald / cpuMedian.baseline).toFixed(2)}×), of which its main thread (its JavaScript, SQLite and the sockets; the signatures run in the thread pool) ${cpuMedian.heraldMain.toFixed(2)} ms.

Warm-up, not in the targets: before the first story, every server fetches Herald's actor and key as it verifies the signature, as a server does when the account is new to it or its copy is a day old (Mastodon refreshes it then). That fan-out took ${warmUp.file.toFixed(2)} s from the file write, ${(warmUp.heraldCpu / hostCount).toFixed(2)} ms of Herald's CPU per server, the fetches included.

Exactly once per server (counted 3 s after the last arrival): ${once.map((o) => `${o.kind} ${o.exactly.toLocaleString("en")} of ${o.total.toLocaleString("en")} (${o.more} more, ${o.fewer} fewer)`).join("; ")}.
Herald's memory: ${memory.rssBefore.toFixed(0)} MB resident before the first fan-out, peak ${memory.peakRss.toFixed(0)} MB (VmHWM).

Targets (median of the rounds, from the file write): ${ratios.map((r) => `${r.kind} ${r.file.toFixed(2)}× (${metOrMissed(r.file <= 1.5)})`).join(", ")} within 1.5× of the baseline; peak memory ≤ 300 MB: ${memory.peakRss.toFixed(0)} MB (${metOrMissed(memory.peakRss <= 300)}); exactly one per server: ${metOrMissed(allOnce)}.`;
}
