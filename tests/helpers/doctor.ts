import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { HeraldFolders } from "./herald-spawn.ts";

const cli = fileURLToPath(new URL("../../src/cli/doctor.ts", import.meta.url));

/**
 * Runs `npm run doctor` (its script) on the folders of a Herald instance; never throws on exit
 * code. `extraEnv` adds the instance's other settings (e.g. its `DATABASE_URL`).
 */
export async function doctor(
  folders: HeraldFolders,
  publicUrl: URL,
  target?: string,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string }> {
  const env = {
    ...process.env,
    // As the instance runs (herald-spawn.ts): it may fetch from loopback, itself included.
    ALLOW_PRIVATE_ADDRESS: "true",
    ...extraEnv,
    PUBLIC_URL: publicUrl.origin,
    ARTICLES_DIR: folders.articles,
    DATA_DIR: folders.data,
    KEYS_DIR: folders.keys,
  };
  const args = target ? [cli, target] : [cli];
  try {
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      env,
      cwd: folders.root,
    });
    return { code: 0, stdout };
  } catch (error) {
    const { code, stdout } = error as { code: number; stdout: string };
    return { code, stdout };
  }
}
