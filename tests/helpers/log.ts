import { configure, type LogRecord, reset } from "@logtape/logtape";
import { onTestFinished } from "vitest";

/** Herald's log lines (info and up), as LogTape hands them to a sink, until the test ends. */
export async function captureLog(): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["herald"], sinks: ["memory"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  onTestFinished(() => reset());
  return records;
}

/** A log record's message as one line of text. */
export const logText = (record: LogRecord) =>
  record.message.map((part) => (typeof part === "string" ? part : String(part))).join("");
