import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

/** The heap limit of the Docker image and the README's service unit, with `npm start`'s flag. */
const DEPLOYED_NODE_OPTIONS = "--max-old-space-size=256 --max-semi-space-size=8";

/** Emphasis every four bytes: the most parser objects a byte of Markdown makes. */
const denseMarkup = (bytes: number) => "*a* ".repeat(Math.floor(bytes / 4));

describe("the heaviest articles a folder may hold", () => {
  it("parses the densest allowed file within the deployed heap limit, refuses larger ones with the reason, and keeps serving", async () => {
    const folders = heraldFolders();
    const write = (name: string, text: string) => writeFileSync(join(folders.articles, name), text);
    // More than one batch, so that the reader thread parses its share as well.
    for (let i = 0; i < 600; i++) write(`story-${i}.md`, `# Story ${i}\n\nThe text of story ${i}.`);
    write("dense.md", `# Dense\n\n${denseMarkup(1024 * 1024 - 100)}`);
    // 260,000 one-word list items in under 1 MiB: parsed, they took the process past its limit.
    write("long-list.md", `# List\n\n${"- a\n".repeat(260_000)}`);
    write("too-large.md", `# Too large\n\n${denseMarkup(1024 * 1024 + 100)}`);
    const herald = await startHerald(folders, {
      env: { NODE_OPTIONS: DEPLOYED_NODE_OPTIONS },
    });
    await herald.waitForLog(/Scanned \d+ files/, 60_000);
    const log = herald.output();
    expect(log).toMatch(/long-list\.md.*too many lines \(260,003; at most 50,000\)/);
    expect(log).toMatch(/too-large\.md.*too large \(1\.1 MiB; at most 1 MiB\)/);
    expect((await fetch(new URL("/articles/dense", herald.origin))).status).toBe(200);
    expect((await fetch(new URL("/articles/story-599", herald.origin))).status).toBe(200);

    // A scan of one file, as the folder watcher makes, parses on the main thread.
    write("dense-2.md", `# Dense again\n\n${denseMarkup(1024 * 1024 - 100)}`);
    await herald.waitForLog(/Article created: Dense again/, 30_000);
    expect((await fetch(new URL("/articles/dense-2", herald.origin))).status).toBe(200);
    expect(herald.child.exitCode).toBeNull();
  });
});
