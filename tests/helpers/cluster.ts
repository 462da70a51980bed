/**
 * Several real Herald processes (`node src/main.ts`, `ROLE=web` and `ROLE=worker`) on one
 * PostgreSQL schema, behind a round-robin proxy on 127.0.0.1 that is their one public origin,
 * as a load balancer would be. For `tests/e2e/cluster.test.ts` and `bench/cluster.ts`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import type { FakeRemote, JsonObject, ReceivedRequest } from "./fake-remote.ts";
// Free on every address, as Herald listens: see there.
import { freePort } from "./herald-spawn.ts";

const mainScript = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

export interface ClusterOptions {
  readonly web: number;
  readonly workers: number;
  /** The database; the cluster gets a fresh schema in it, dropped by `stop()`. */
  readonly databaseUrl: URL;
  /** How long each process may take to answer `/readyz`; default 30 s. */
  readonly startTimeoutMs?: number;
}

export interface HeraldProcess {
  /** `web-1`, `worker-2`, … */
  readonly name: string;
  readonly role: "web" | "worker";
  readonly port: number;
  readonly child: ChildProcess;
  /** Every line it wrote to stdout and stderr so far (JSON Lines from LogTape, mostly). */
  readonly lines: string[];
}

export interface StoppedProcess {
  readonly name: string;
  /** Whether it exited by itself within 10 s of SIGTERM (else it was killed). */
  readonly exitedInTime: boolean;
  readonly code: number | null;
  readonly ms: number;
}

export interface Cluster {
  /** The proxy's origin: every process's `PUBLIC_URL`. */
  readonly publicUrl: URL;
  /** The account's actor, `PUBLIC_URL/users/news`. */
  readonly actor: URL;
  readonly articlesDir: string;
  readonly schema: string;
  /** The `DATABASE_URL` given to every process. */
  readonly databaseUrl: URL;
  readonly processes: readonly HeraldProcess[];
  /** Requests the proxy forwarded to each web process, by name. */
  readonly proxied: ReadonlyMap<string, number>;
  /** Activities each process delivered successfully (from Fedify's log), by name and type. */
  deliveries(): ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** The processes' log records (JSON Lines) so far, with the process's name. */
  records(): readonly { readonly name: string; readonly record: LogRecord }[];
  /** The processes' log lines matching `pattern`, with the process's name. */
  grep(pattern: RegExp): readonly { readonly name: string; readonly line: string }[];
  /** SIGTERM to every process, each must exit within 10 s; then the schema and files go. */
  stop(): Promise<readonly StoppedProcess[]>;
}

/**
 * Starts the proxy and the processes: one web process first, which creates the account's
 * keys in the shared `KEYS_DIR` and the tables, then all the others at once. One article is in the folder from the start:
 * the first scan is an import that is not pushed, so that later articles are.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), "herald-cluster-"));
  const articlesDir = join(root, "articles");
  mkdirSync(articlesDir);
  writeArticle(articlesDir, "welcome", "Welcome", new Date(Date.now() - 60_000));
  const schema = `herald_cluster_${randomUUID().replaceAll("-", "")}`;
  const admin = postgres(options.databaseUrl.href, { max: 1, onnotice: () => {} });
  await admin`CREATE SCHEMA ${admin(schema)}`;
  const databaseUrl = new URL(options.databaseUrl);
  databaseUrl.searchParams.set("search_path", schema);

  const processes: HeraldProcess[] = [];
  const webs = () => processes.filter((p) => p.role === "web");
  const proxy = await startProxy(webs);
  const publicUrl = proxy.origin;
  const spawnOne = async (
    role: "web" | "worker",
    index: number,
    attempt = 1,
  ): Promise<HeraldProcess> => {
    const name = `${role}-${index}`;
    const port = await freePort();
    const dataDir = join(root, `data-${name}`);
    const child = spawn(process.execPath, [mainScript], {
      // A folder with no `.env`: only what is set here counts.
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        ROLE: role,
        PORT: String(port),
        PUBLIC_URL: publicUrl.origin,
        DATABASE_URL: databaseUrl.href,
        ARTICLES_DIR: articlesDir,
        KEYS_DIR: join(root, "keys"),
        DATA_DIR: dataDir,
        SCAN_SCHEDULE: "* * * * * *",
        ALLOW_PRIVATE_ADDRESS: "true",
        // Debug shows Fedify's "Successfully sent activity …" lines: who delivered what.
        LOG_LEVEL: "debug",
        LOG_FORMAT: "json",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const herald: HeraldProcess = { name, role, port, child, lines: [] };
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        herald.lines.push(...parts);
      });
    }
    processes.push(herald);
    try {
      await waitReady(herald, options.startTimeoutMs ?? 30_000);
    } catch (error) {
      // Between freePort() and the child's listen, another test's server may take the port.
      const taken = herald.lines.some((line) => line.includes("EADDRINUSE"));
      if (!taken || attempt >= 3) throw error;
      processes.splice(processes.indexOf(herald), 1);
      return spawnOne(role, index, attempt + 1);
    }
    return herald;
  };

  const stop = async (): Promise<readonly StoppedProcess[]> => {
    const stopped = await Promise.all(processes.map(terminate));
    await proxy.close();
    try {
      await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    } finally {
      await admin.end();
      rmSync(root, { recursive: true, force: true });
    }
    return stopped;
  };

  try {
    await spawnOne("web", 1);
    await Promise.all([
      ...Array.from({ length: options.web - 1 }, (_, i) => spawnOne("web", i + 2)),
      ...Array.from({ length: options.workers }, (_, i) => spawnOne("worker", i + 1)),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }

  const grep = (pattern: RegExp) =>
    processes.flatMap((p) =>
      p.lines.filter((line) => pattern.test(line)).map((line) => ({ name: p.name, line })),
    );
  const records = () =>
    processes.flatMap((p) =>
      p.lines.flatMap((line) => {
        const record = parseLine(line);
        return record === undefined ? [] : [{ name: p.name, record }];
      }),
    );
  return {
    publicUrl,
    actor: new URL("/users/news", publicUrl),
    articlesDir,
    schema,
    databaseUrl,
    processes,
    proxied: proxy.counts,
    grep,
    records,
    deliveries() {
      const counts = new Map<string, Map<string, number>>();
      for (const { name, record } of records()) {
        if (!record.message?.startsWith("Successfully sent activity")) continue;
        const activity = record.properties?.activity;
        const type = isObject(activity) && typeof activity.type === "string" ? activity.type : "?";
        const byType = counts.get(name) ?? new Map<string, number>();
        byType.set(type, (byType.get(type) ?? 0) + 1);
        counts.set(name, byType);
      }
      return counts;
    },
    stop,
  };
}

/** A line of LogTape's JSON Lines output. */
export interface LogRecord {
  readonly level?: string;
  /** Rendered: string values in double quotes. */
  readonly message?: string;
  readonly logger?: string;
  readonly properties?: Readonly<Record<string, unknown>>;
}

function parseLine(line: string): LogRecord | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const record: unknown = JSON.parse(line);
    return isObject(record) ? (record as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes an article into `dir` whole (a temporary file renamed in, so a scan never reads half
 * of it) and answers when it appeared.
 */
export function writeArticle(dir: string, slug: string, title: string, date: Date): Date {
  const temporary = join(dir, "..", `${slug}.md.tmp`);
  writeFileSync(
    temporary,
    `---\ntitle: ${title}\ndate: ${date.toISOString()}\n---\n\n${title}: an article for the cluster.\n`,
  );
  renameSync(temporary, join(dir, `${slug}.md`));
  return new Date();
}

/**
 * Every remote's first user follows `actor` through the public origin; resolves once each
 * received its verified `Accept`, at most `concurrency` follows at a time.
 */
export async function followAll(
  remotes: readonly FakeRemote[],
  actor: URL,
  options: { readonly concurrency?: number; readonly timeoutMs?: number } = {},
): Promise<void> {
  const queue = [...remotes];
  const follow = async (remote: FakeRemote) => {
    const followId = await remote.follow(remote.users[0] ?? "alice", actor);
    await remote.waitFor(
      (activity) =>
        activity.type === "Accept" &&
        (activity.object === followId.href ||
          (isObject(activity.object) && activity.object.id === followId.href)),
      { timeoutMs: options.timeoutMs ?? 60_000 },
    );
  };
  await Promise.all(
    Array.from({ length: options.concurrency ?? 20 }, async () => {
      for (let remote = queue.shift(); remote !== undefined; remote = queue.shift()) {
        await follow(remote);
      }
    }),
  );
}

/** The `Create`s of `object` each remote received: verified ones, and any others. */
export function createsOf(
  remote: FakeRemote,
  object: URL,
): { readonly verified: readonly ReceivedRequest[]; readonly other: readonly ReceivedRequest[] } {
  const creates = remote.received(
    (request) => request.type === "Create" && idOfObject(request.activity) === object.href,
  );
  return {
    verified: creates.filter((request) => request.verified),
    other: creates.filter((request) => !request.verified),
  };
}

/**
 * The ActivityPub id of the article `slug`, once published: the article's page redirects
 * fediverse clients to it.
 */
export async function objectIdOf(publicUrl: URL, slug: string, timeoutMs = 10_000): Promise<URL> {
  let location: string | null = null;
  await waitFor(
    async () => {
      const response = await fetch(new URL(`/articles/${slug}`, publicUrl), {
        headers: { accept: "application/activity+json" },
        redirect: "manual",
      });
      await response.body?.cancel();
      location =
        response.status === 303 || response.status === 302
          ? response.headers.get("location")
          : null;
      return location !== null;
    },
    timeoutMs,
    `the article ${slug} to be published`,
  );
  return new URL(location ?? "", publicUrl);
}

/** Waits until `done()` holds, polling; throws after `timeoutMs`. */
export async function waitFor(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await sleep(50);
  }
}

function idOfObject(activity: JsonObject | undefined): string | undefined {
  const object = activity?.object;
  if (typeof object === "string") return object;
  return isObject(object) && typeof object.id === "string" ? object.id : undefined;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function waitReady(herald: HeraldProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (herald.child.exitCode !== null) {
      throw new Error(
        `${herald.name} exited with code ${herald.child.exitCode}:\n${herald.lines.slice(-20).join("\n")}`,
      );
    }
    const ok = await fetch(`http://127.0.0.1:${herald.port}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) {
      throw new Error(`${herald.name} was not ready within ${timeoutMs} ms.`);
    }
    await sleep(100);
  }
}

async function terminate(herald: HeraldProcess): Promise<StoppedProcess> {
  const { child } = herald;
  const started = performance.now();
  if (child.exitCode !== null || child.signalCode !== null) {
    return { name: herald.name, exitedInTime: true, code: child.exitCode, ms: 0 };
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const inTime = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!inTime) {
    child.kill("SIGKILL");
    await exited;
  }
  return {
    name: herald.name,
    exitedInTime: inTime,
    code: child.exitCode,
    ms: Math.round(performance.now() - started),
  };
}

/**
 * A round-robin HTTP proxy on 127.0.0.1: each request goes to the next of `targets()`, with
 * its method, path, headers (`Host` too: signatures cover it) and body as they came.
 */
async function startProxy(targets: () => readonly HeraldProcess[]) {
  const counts = new Map<string, number>();
  const agent = new http.Agent({ keepAlive: true });
  let next = 0;
  const server = http.createServer((req, res) => {
    const all = targets();
    const target = all[next++ % Math.max(all.length, 1)];
    if (target === undefined) {
      req.resume();
      res.writeHead(503).end();
      return;
    }
    counts.set(target.name, (counts.get(target.name) ?? 0) + 1);
    const bodiless = req.method === "GET" || req.method === "HEAD";
    const forward = (again: boolean) => {
      const upstream = http.request(
        {
          host: "127.0.0.1",
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (response) => {
          res.writeHead(response.statusCode ?? 502, response.rawHeaders);
          response.pipe(res);
        },
      );
      upstream.on("error", () => {
        // A kept connection the process closed (its keep-alive timeout) just as it was reused:
        // a request without a body goes again on a new one, as load balancers send it.
        if (again && bodiless && upstream.reusedSocket && !res.headersSent) return forward(false);
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      if (bodiless) upstream.end();
      else req.pipe(upstream);
    };
    forward(true);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: new URL(`http://127.0.0.1:${port}`),
    counts: counts as ReadonlyMap<string, number>,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}
