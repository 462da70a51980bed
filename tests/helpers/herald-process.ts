import { onTestFinished } from "vitest";
import {
  type HeraldFolders,
  type HeraldProcess,
  makeFolders,
  spawnHerald,
} from "./herald-spawn.ts";

export { freePort, type HeraldFolders, type HeraldProcess, heraldEnv } from "./herald-spawn.ts";

/** Folders for one Herald instance, removed when the test ends. */
export function heraldFolders(): HeraldFolders {
  const folders = makeFolders();
  onTestFinished(() => folders.remove());
  return folders;
}

/** A real Herald process (see `spawnHerald`), killed when the test ends. */
export async function startHerald(...args: Parameters<typeof spawnHerald>): Promise<HeraldProcess> {
  const herald = await spawnHerald(...args);
  onTestFinished(() => herald.kill());
  return herald;
}
