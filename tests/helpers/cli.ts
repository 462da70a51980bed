import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type HeraldFolders, type HeraldProcess, heraldEnv } from "./herald-spawn.ts";

/**
 * `npm run <cli> -- …` as an operator runs it beside the service: another process, with the
 * environment Herald runs with (`env` as given to `startHerald`).
 */
export function runCli(
  cli: "move" | "replies",
  folders: HeraldFolders,
  herald: HeraldProcess,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = fileURLToPath(new URL(`../../src/cli/${cli}.ts`, import.meta.url));
  const child = spawn(process.execPath, [script, ...args], {
    cwd: folders.root,
    env: heraldEnv(folders, herald.port, env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}
