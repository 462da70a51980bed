import { ConfigError, loadConfig } from "../../src/config.ts";

/** What `loadConfig()` says is wrong with `env`: none when it loads. */
export function configProblems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
