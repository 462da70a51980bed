import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers/articles.ts";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

describe("npm start with a bad configuration", () => {
  it("stops before starting, with one line per bad value naming the variable", async () => {
    const env = {
      ...process.env,
      PORT: "eighty",
      SCAN_SCHEDULE: "every minute",
      PUBLIC_URL: "news.test",
      ARTICLES_DIR: "/nonexistent/articles",
    };
    const result = await promisify(execFile)(process.execPath, [main], {
      env,
      cwd: tempDir(),
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      'Configuration error: PORT must be a whole number from 0 to 65535 (got "eighty").',
      'Configuration error: PUBLIC_URL must be an origin like https://news.example (got "news.test").',
      'Configuration error: SCAN_SCHEDULE must be a cron expression of 5 or 6 fields, like */5 * * * * (got "every minute").',
    ]);
  });

  it("names an articles folder that does not exist", async () => {
    const env = { ...process.env, ARTICLES_DIR: "/nonexistent/articles", PORT: "0" };
    const result = await promisify(execFile)(process.execPath, [main], {
      env,
      cwd: tempDir(),
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "Configuration error: ARTICLES_DIR does not exist: /nonexistent/articles",
    );
  });
});
