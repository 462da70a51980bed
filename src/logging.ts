import { AsyncLocalStorage } from "node:async_hooks";
import { inspect } from "node:util";
import { configure, getConsoleSink, getTextFormatter, jsonLinesFormatter } from "@logtape/logtape";
import type { LogLevel } from "./config.ts";

/**
 * Sends log records to stdout/stderr: readable lines by default, JSON Lines with
 * `format: "json"` (for log collectors). Fedify logs under the `fedify` category.
 */
export async function configureLogging(level: LogLevel, format: "text" | "json" = "text") {
  const formatter =
    format === "json"
      ? jsonLinesFormatter
      : getTextFormatter({
          timestamp: "date-time-tz",
          category: ".",
          level: "FULL",
          // Strings as they are (no quotes), so URLs and handles can be copied from the log.
          value: (v) => (typeof v === "string" ? v : inspect(v, { colors: false, depth: 3 })),
        });
  await configure({
    reset: true,
    // Fedify attaches request context (ids, URLs) to its log records through this.
    contextLocalStorage: new AsyncLocalStorage(),
    sinks: { console: getConsoleSink({ formatter }) },
    loggers: [
      { category: ["herald"], lowestLevel: level, sinks: ["console"] },
      {
        category: ["fedify"],
        lowestLevel: level === "debug" ? "info" : "warning",
        sinks: ["console"],
      },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
