import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { tempDir } from "./helpers/articles.ts";
import { freePort } from "./helpers/herald-spawn.ts";

const repository = fileURLToPath(new URL("..", import.meta.url));

describe("npm start under a supervisor (issue #15.7)", () => {
  it("runs Herald with two malloc arenas, and stops it when the npm process gets SIGTERM, leaving no node behind", async () => {
    const port = await freePort();
    const npm = spawn("npm", ["start"], {
      cwd: repository,
      env: {
        ...withoutArenaSetting(process.env),
        PORT: String(port),
        ARTICLES_DIR: tempDir(),
        DATA_DIR: tempDir(),
        KEYS_DIR: tempDir(),
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so that the test can clean up whatever it left, orphans too.
      detached: true,
    });
    onTestFinished(() => {
      try {
        process.kill(-(npm.pid ?? 0), "SIGKILL");
      } catch {
        // all gone already
      }
    });
    let log = "";
    npm.stdout.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    npm.stderr.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => npm.once("exit", resolve));
    const healthz = `http://127.0.0.1:${port}/healthz`;
    await expect
      .poll(
        () =>
          fetch(healthz).then(
            (r) => r.status,
            () => 0,
          ),
        { timeout: 20_000, interval: 200 },
      )
      .toBe(200);

    // Herald itself runs with the malloc setting of the README's "Deploying".
    expect(environmentOf(port)).toContain("MALLOC_ARENA_MAX=2");

    npm.kill("SIGTERM"); // what systemd, Docker or a shell's `kill` sends to the process it started
    expect(await exited).toBe(0);
    // Herald itself (node, a child of npm's shell) has stopped too: nothing answers any more.
    await expect(fetch(healthz)).rejects.toThrow();
    expect(log).toMatch(/SIGTERM/);
  }, 40_000);
});

function withoutArenaSetting(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { MALLOC_ARENA_MAX: _, ...rest } = env;
  return rest;
}

/** The environment (`NAME=value` entries) of the Herald process listening on `port`. */
function environmentOf(port: number): string[] {
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const environment = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (command.includes("src/main.ts") && environment.includes(`PORT=${port}`)) {
        return environment;
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  throw new Error(`No Herald process with PORT=${port}.`);
}
