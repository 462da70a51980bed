import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { HeraldFolders, HeraldProcess } from "./herald-spawn.ts";

const repliesCli = fileURLToPath(new URL("../../src/cli/replies.ts", import.meta.url));

/**
 * `npm run replies -- …` as an editor runs it beside the service: another process, with the
 * environment Herald runs with (`env` as given to `startHerald`).
 */
export function runReplies(
  folders: HeraldFolders,
  herald: HeraldProcess,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [repliesCli, ...args], {
    cwd: folders.root,
    env: {
      ...process.env,
      PORT: String(herald.port),
      PUBLIC_URL: herald.origin.origin,
      ARTICLES_DIR: folders.articles,
      DATA_DIR: folders.data,
      KEYS_DIR: folders.keys,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}
