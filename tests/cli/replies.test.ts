import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { openBackends } from "../../src/backends/open.ts";
import { openSqliteInteractionStore } from "../../src/backends/sqlite/interactions.ts";
import { replyChecks } from "../../src/cli/doctor-replies.ts";
import { loadConfig } from "../../src/config.ts";

const cli = fileURLToPath(new URL("../../src/cli/replies.ts", import.meta.url));
const ESC = "\u001b";

/** A data folder with one held reply whose name and text carry terminal escape sequences. */
function heldReply() {
  const root = mkdtempSync(join(tmpdir(), "herald-replies-"));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  const env = {
    ARTICLES_DIR: join(root, "articles"),
    DATA_DIR: join(root, "data"),
    KEYS_DIR: join(root, "keys"),
  };
  for (const dir of Object.values(env)) mkdirSync(dir);
  const db = new DatabaseSync(join(env.DATA_DIR, "herald.sqlite"));
  const store = openSqliteInteractionStore(db, { replies: "review" });
  const id = "https://m.test/users/eve/statuses/1";
  const outcome = store.add("a1", {
    kind: "reply",
    id,
    actor: { id: "https://m.test/users/eve", name: `Eve${ESC}[2J`, handle: "@eve@m.test" },
    contentHtml: `<p>Hello${ESC}]0;pwned\u0007 &amp; bye</p>`,
    published: "2026-12-01T10:00:00.000Z",
    signals: ["many-mentions"],
  });
  return { env, id, outcome, close: () => db.close() };
}

function run(env: Record<string, string>, args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("npm run replies", () => {
  it("lists a held reply without the control characters of its name and text", async () => {
    const { env, id, outcome, close } = heldReply();
    expect(await outcome).toBe("held");
    close();
    const listed = run(env, []);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain("1 reply waits for review");
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain("by       @eve@m.test (Eve [2J)");
    expect(listed.stdout).toContain("signals  many mentions");
    expect(listed.stdout).toContain("text     Hello ]0;pwned  & bye");
    expect(listed.stdout).not.toContain(ESC);
    expect(listed.stdout).not.toContain("\u0007");
  });

  it("says how many wait in the doctor, and none once approved", async () => {
    const { env, id, outcome, close } = heldReply();
    await outcome;
    close();
    const config = loadConfig(env);
    const doctor = async () => {
      const backends = await openBackends(config);
      try {
        return await replyChecks(backends, config);
      } finally {
        await backends.close();
      }
    };
    expect(await doctor()).toEqual([
      {
        verdict: "warn",
        what: "Replies",
        detail: "1 reply waits for review (REPLIES=review): npm run replies",
      },
    ]);
    const approved = run(env, ["approve", id]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain("Approved 1 reply");
    expect((await doctor())[0]?.verdict).toBe("ok");
    expect(run(env, ["approve"]).code).toBe(2);
    expect(run(env, ["reject", "--all"]).code).toBe(2);
  });
});
