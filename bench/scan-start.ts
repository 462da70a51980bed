/**
 * The whole `npm start` process on a generated folder, measured from outside as a user sees
 * it: a first start into empty state, until the home feed shows a story, until it shows the
 * newest, until the process is idle; its peak RSS from the kernel (`VmHWM`).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEPLOYED_ENV } from "../tests/helpers/herald-spawn.ts";

export interface StartResult {
  /** The home feed answers with a first story. */
  readonly feedMs: number;
  /** The home feed carries the newest story of the folder. */
  readonly newestMs: number;
  /** The process has used under 3% of a core for 3 s. */
  readonly idleMs: number;
  readonly peakRssMb: number;
}

const host = "127.0.30.1"; // this work's loopback range
const tick = 250;
const idleWindow = 3000;

export async function measureStart(
  articlesDir: string,
  root: string,
  newestTitle: string,
  flags: readonly string[],
): Promise<StartResult> {
  const port = 18_000 + Math.floor(Math.random() * 2000);
  for (const name of ["data", "keys"]) mkdirSync(join(root, name), { recursive: true });
  const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
  const child = spawn(process.execPath, [...flags, main], {
    cwd: root,
    stdio: "ignore",
    env: {
      ...process.env,
      ...DEPLOYED_ENV,
      PORT: String(port),
      PUBLIC_URL: `http://${host}:${port}`,
      ARTICLES_DIR: articlesDir,
      DATA_DIR: join(root, "data"),
      KEYS_DIR: join(root, "keys"),
    },
  });
  const started = performance.now();
  const pid = child.pid ?? 0;
  const feed = `http://${host}:${port}/feed.xml`;
  let feedMs: number | undefined;
  let newestMs: number | undefined;
  /** CPU clock ticks (1/100 s) of the last 3 s, one entry per poll. */
  const window: number[] = [];
  let lastCpu = cpuTicks(pid);
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, tick));
      const now = performance.now() - started;
      if (now > 20 * 60_000) throw new Error("npm start did not settle within 20 minutes.");
      const body = await fetch(feed).then(
        (r) => (r.ok ? r.text() : ""),
        () => "",
      );
      if (feedMs === undefined && body.includes("<item>")) feedMs = now;
      if (newestMs === undefined && body.includes(newestTitle)) newestMs = now;
      const cpu = cpuTicks(pid);
      window.push(cpu - lastCpu);
      lastCpu = cpu;
      if (window.length > idleWindow / tick) window.shift();
      // Idle: under 3% of a core over the last 3 s (9 ticks), once the newest story shows.
      const used = window.reduce((a, b) => a + b, 0);
      if (newestMs !== undefined && window.length === idleWindow / tick && used <= 9) {
        return {
          feedMs: feedMs ?? now,
          newestMs,
          idleMs: now - idleWindow,
          peakRssMb: Math.round(peakRssKb(pid) / 1024),
        };
      }
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

/** User + system CPU time of the process, in clock ticks (`/proc/PID/stat`). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function peakRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}
