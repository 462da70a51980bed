import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/** The folders of one Herald instance; they outlive restarts of its process. */
export interface HeraldFolders {
  readonly root: string;
  readonly articles: string;
  readonly data: string;
  readonly keys: string;
}

/** Folders in a new temporary directory; `remove()` deletes them. */
export function makeFolders(): HeraldFolders & { remove(): void } {
  const root = mkdtempSync(join(tmpdir(), "herald-e2e-"));
  const folders = {
    root,
    remove: () => rmSync(root, { recursive: true, force: true }),
    articles: join(root, "articles"),
    data: join(root, "data"),
    keys: join(root, "keys"),
  };
  for (const dir of [folders.articles, folders.data, folders.keys]) mkdirSync(dir);
  return folders;
}

export interface HeraldProcess {
  readonly origin: URL;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything it logged so far. */
  output(): string;
  /** Resolves once a log line matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, and wait for the exit (its code). */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
}

/**
 * The environment `npm start`, the Docker image and the README's service unit give Herald
 * besides its configuration: two malloc arenas instead of one per thread (README, "Deploying").
 */
export const DEPLOYED_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/** A free port on 127.0.0.1, to give the process a stable PUBLIC_URL across restarts. */
export async function freePort(): Promise<number> {
  const server = createServer();
  // On every address, as Herald listens: a port free on 127.0.0.1 alone may be a fake remote's
  // on another loopback address (127.0.10.1), and Herald would not start.
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The environment of a Herald process on `port` of loopback with `folders` (as `spawnHerald()`
 * starts it), with `env` on top.
 */
export function heraldEnv(
  folders: HeraldFolders,
  port: number,
  env: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...DEPLOYED_ENV,
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ALLOW_PRIVATE_ADDRESS: "true",
    ARTICLES_DIR: folders.articles,
    DATA_DIR: folders.data,
    KEYS_DIR: folders.keys,
    SCAN_SCHEDULE: "* * * * * *",
    LOG_LEVEL: "info",
    ...env,
  };
}

/**
 * Starts `node src/main.ts` as a user would, on loopback, scanning every second; resolves once
 * `/healthz` answers and the first scan is done. The caller stops it; tests use
 * `herald-process.ts`, which does that when the test ends. Free of vitest, for `bench/`.
 */
export async function spawnHerald(
  folders: HeraldFolders,
  options: { readonly port?: number; readonly env?: Record<string, string> } = {},
): Promise<HeraldProcess> {
  const port = options.port ?? (await freePort());
  const origin = new URL(`http://127.0.0.1:${port}`);
  const child = spawn(process.execPath, [main], {
    cwd: folders.root,
    env: heraldEnv(folders, port, options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const listeners = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      log += chunk;
      for (const listener of listeners) listener();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const herald: HeraldProcess = {
    origin,
    port,
    child,
    output: () => log,
    waitForLog(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(log)) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`No log line matched ${pattern} in ${timeoutMs} ms. Log:\n${log}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Herald exited with ${child.exitCode}:\n${log}`);
    try {
      if ((await fetch(new URL("/healthz", origin))).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Herald did not start in 20 s:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The first scan (and handing its changes to the publishers) comes first; a restart with
  // thousands of changes pending takes a while.
  await herald.waitForLog(/Published: \d+ articles/, 60_000);
  return herald;
}
