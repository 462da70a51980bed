/**
 * nginx and Caddy as child processes with configurations of their own (no system service): each
 * listens on `ADDRESS:443` for one host name and proxies to Herald on `127.0.0.1:PORT`.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { caddyConfig, nginxConfig, type ProxyKind, type ProxySite } from "./proxy-config.ts";

export interface ReverseProxy {
  readonly kind: ProxyKind;
  /** `https://NAME`: the public origin it serves. */
  readonly origin: URL;
  /** The loopback address it listens on (port 443). */
  readonly address: string;
  /** The configuration file it runs. */
  readonly config: string;
  /** What it logged to stdout/stderr (nginx's error log is a file under its directory). */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and deletes its directory. */
  stop(): Promise<void>;
}

/** Starts the proxy and resolves once it accepts connections on `ADDRESS:443`. */
export async function startReverseProxy(kind: ProxyKind, site: ProxySite): Promise<ReverseProxy> {
  // Else a leftover proxy would answer and this one's failure to bind would go unnoticed.
  if (await accepts(site.address, 443)) {
    throw new Error(`Something already listens on ${site.address}:443.`);
  }
  const dir = await mkdtemp(join(tmpdir(), `herald-${kind}-`));
  const config = join(dir, kind === "caddy" ? "Caddyfile" : "nginx.conf");
  let child: ChildProcess;
  if (kind === "caddy") {
    await writeFile(config, caddyConfig(site, dir));
    child = spawn("caddy", ["run", "--adapter", "caddyfile", "--config", config], {
      // Caddy keeps its state under HOME/XDG folders: keep them in the temp dir too.
      env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
  } else {
    await writeFile(config, nginxConfig(kind, site, dir));
    child = spawn("nginx", ["-p", dir, "-c", config, "-g", "daemon off;"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  }
  let log = "";
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      log += chunk;
    });
  }
  // A missing command is an "error" event, not an exit: without a listener it would crash.
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      spawnError = error;
      log += `${error.message} (is ${kind.split("-")[0]} installed? .ci/run installs it)\n`;
      resolve();
    });
  });
  const running = () =>
    spawnError === undefined && child.exitCode === null && child.signalCode === null;
  const proxy: ReverseProxy = {
    kind,
    origin: new URL(`https://${site.name}`),
    address: site.address,
    config,
    output: () => log,
    async stop() {
      if (running()) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => running() && child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 15_000;
  while (!(await accepts(site.address, 443))) {
    if (!running() || Date.now() > deadline) {
      await proxy.stop();
      throw new Error(`${kind} did not start on ${site.address}:443:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return proxy;
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
