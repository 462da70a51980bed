import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";

/**
 * The environment Herald is configured from: `.env` in the working folder (if any),
 * overridden by the real process environment.
 */
export function readEnvironment(
  processEnv: NodeJS.ProcessEnv,
  envFile = ".env",
): Record<string, string | undefined> {
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseEnv(readFileSync(envFile, "utf8")) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return { ...fromFile, ...processEnv };
}
