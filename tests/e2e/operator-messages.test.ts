import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it, onTestFinished } from "vitest";
import { heraldEnv, heraldFolders, startHerald } from "../helpers/herald-process.ts";

const articlesCheck = fileURLToPath(new URL("../../src/cli/articles-check.ts", import.meta.url));
const main = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

const embed = `---
title: Embedded
language: en
---
The council met on Monday.

<iframe src="https://video.test/embed/42"></iframe>

It voted <script>alert(1)</script> to build.
`;

describe("what the operator is told about an article (issue #15.4, #15.7)", () => {
  it("logs each removed element with file and line, and the page links the embed's source", async () => {
    const folders = heraldFolders();
    writeFileSync(join(folders.articles, "embed.md"), embed);
    const herald = await startHerald(folders);
    await herald.waitForLog(
      /embed\.md:7: <iframe src="https:\/\/video\.test\/embed\/42"> removed \(embeds do not play here\); a link to its source is left in its place/,
    );
    await herald.waitForLog(/embed\.md:9: <script> removed \(not allowed in articles\)/);
    const page = await (await fetch(new URL("/articles/embed", herald.origin))).text();
    expect(page).toContain('<a href="https://video.test/embed/42">https://video.test/embed/42</a>');
    expect(page).toContain("It voted to build.");
  });

  it("says at start-up where everything is and what happens to replies and quotes", async () => {
    const herald = await startHerald(heraldFolders());
    const output = herald.output();
    expect(output).toContain(`Home page:   ${herald.origin.href}`);
    expect(output).toContain(`Fediverse:   @news@${herald.origin.host}`);
    expect(output).toContain(
      "Replies:     held for review (npm run replies), approved authors' shown at once",
    );
    const auto = await startHerald(heraldFolders(), { env: { REPLIES: "auto" } });
    expect(auto.output()).toContain("Replies:     shown at once (REPLIES=auto)");
    expect(output).toContain("Quotes:      anyone may quote the stories (QUOTE_POLICY=public)");
  });

  it("says in one line that its port is taken, and exits", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    onTestFinished(() => void taken.close());
    const { port } = taken.address() as AddressInfo;
    const env = heraldEnv(heraldFolders(), port);
    const run = await promisify(execFile)(process.execPath, [main], { env, timeout: 30_000 }).then(
      () => ({ code: 0, stdout: "", stderr: "" }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(run.code).toBe(2);
    const output = run.stdout + run.stderr;
    expect(output).toContain(
      `Port ${port} is already in use (another Herald, or another server): stop it, or set PORT to a free port.`,
    );
    expect(output).not.toContain("EADDRINUSE");
  });

  it("says that a published article that breaks keeps its last good version online", async () => {
    const folders = heraldFolders();
    const file = join(folders.articles, "story.md");
    writeFileSync(file, "---\ntitle: Story\nlanguage: en\n---\nThe text.\n");
    const herald = await startHerald(folders);
    writeFileSync(file, '---\ntitle: "Story\nlanguage: en\n---\nThe text, edited.\n');
    await herald.waitForLog(
      /Skipped story\.md:2: front matter is not valid YAML: .*; its last good version stays published until the file is fixed/,
    );
    expect((await fetch(new URL("/articles/story", herald.origin))).status).toBe(200);
    const env = {
      ...process.env,
      ARTICLES_DIR: folders.articles,
      DATA_DIR: folders.data,
      KEYS_DIR: folders.keys,
    };
    const check = await promisify(execFile)(process.execPath, [articlesCheck], { env }).catch(
      (error: { stdout: string }) => error,
    );
    expect(check.stdout).toMatch(
      /^problem {2}story\.md:2: front matter is not valid YAML: .*; its last good version stays published until the file is fixed$/m,
    );
  });
});
