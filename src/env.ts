import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { type Config, ConfigError, checkFolders, loadConfig } from "./config.ts";

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

/**
 * The configuration of a command (`npm start`, `npm run doctor`, …): read from the environment
 * and `.env`, the folders checked when asked. On a bad value it prints one line per problem,
 * naming the variable, and ends the process with exit code 2.
 */
export function configOrExit(options: { readonly checkFolders: boolean }): Config {
  try {
    const config = loadConfig(readEnvironment(process.env));
    if (options.checkFolders) checkFolders(config);
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`Configuration error: ${problem}`);
    process.exit(2);
  }
}
