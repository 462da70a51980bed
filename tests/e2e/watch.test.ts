import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type HeraldProcess, heraldFolders, startHerald } from "../helpers/herald-process.ts";

/** A cron schedule that does not fire during a test (midnight on 1 January): only the watcher scans. */
const NEVER = "0 0 1 1 *";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `path` every 20 ms until it answers `status` (and holds `text`); fails after `timeoutMs`. */
async function untilPage(
  herald: HeraldProcess,
  path: string,
  { status = 200, text = "", timeoutMs = 5000 } = {},
): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  let last = "";
  for (;;) {
    const response = await fetch(new URL(path, herald.origin));
    last = await response.text();
    if (response.status === status && last.includes(text)) return last;
    if (performance.now() > deadline) {
      throw new Error(
        `${path} did not answer ${status} with "${text}" in ${timeoutMs} ms:\n${last}`,
      );
    }
    await sleep(20);
  }
}

/** The outbox's `totalItems`: how many published stories the fediverse account lists. */
async function outboxTotal(herald: HeraldProcess): Promise<number> {
  const response = await fetch(new URL("/users/news/outbox", herald.origin), {
    headers: { Accept: "application/activity+json" },
  });
  return ((await response.json()) as { totalItems: number }).totalItems;
}

const count = (log: string, pattern: RegExp) => log.match(new RegExp(pattern, "g"))?.length ?? 0;

describe("publish on write (the articles folder is watched)", () => {
  it("shows a new story and queues its Create within a second of the write, without cron", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { SCAN_SCHEDULE: NEVER } });
    expect(herald.output()).toContain(`Watching ${folders.articles}`);

    const written = performance.now();
    writeFileSync(join(folders.articles, "fresh.md"), "# Fresh story\n\nWritten just now.");
    await untilPage(herald, "/articles/fresh", { text: "Written just now." });
    const visibleMs = performance.now() - written;
    await herald.waitForLog(/Queued Create of fresh/, 5000);
    const queuedMs = performance.now() - written;
    // The targets are 1 s and 2 s; the bounds are generous for a loaded test machine.
    expect(visibleMs).toBeLessThan(5000);
    expect(queuedMs).toBeLessThan(5000);
  });

  it("publishes editors' saves once, with the final text", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { SCAN_SCHEDULE: NEVER } });
    const path = (name: string) => join(folders.articles, name);

    // vim: a probe of the folder, a swap file, a backup, then the file written in place.
    writeFileSync(path("4913"), "");
    rmSync(path("4913"));
    writeFileSync(path(".vim.md.swp"), "swap");
    writeFileSync(path("vim.md~"), "# Old backup");
    // Emacs and LibreOffice: autosave and lock files beside the article.
    writeFileSync(path("#vim.md#"), "# Autosave");
    writeFileSync(path(".~lock.vim.md#"), "lock");
    // A temp file written in two goes, then renamed into place.
    writeFileSync(path(".renamed.md.tmp"), "# Renamed draft\n\nHalf");
    writeFileSync(path(".renamed.md.tmp"), "# Renamed story\n\nThe final text.");
    renameSync(path(".renamed.md.tmp"), path("renamed.md"));
    // A file written in several chunks.
    const fd = openSync(path("chunked.md"), "w");
    for (const chunk of ["# Chunked story\n\n", "First part, ", "second part, ", "the end."]) {
      writeFileSync(fd, chunk);
      await sleep(5); // well within the 0.05 s the watcher waits for quiet
    }
    closeSync(fd);

    await untilPage(herald, "/articles/renamed", { text: "The final text." });
    await untilPage(herald, "/articles/chunked", { text: "First part, second part, the end." });
    await sleep(1500); // time for a second, wrong publication to show
    const log = herald.output();
    expect(count(log, /Queued Create of renamed/)).toBe(1);
    expect(count(log, /Queued Create of chunked/)).toBe(1);
    expect(count(log, /Queued Update/)).toBe(0);
    expect(count(log, /Skipped /)).toBe(0); // no swap or backup file reported as a bad article
    expect(await outboxTotal(herald)).toBe(2);

    // An edit saved as temp file + rename is one Update.
    writeFileSync(path(".renamed.md.tmp"), "# Renamed story\n\nEdited text.");
    renameSync(path(".renamed.md.tmp"), path("renamed.md"));
    await untilPage(herald, "/articles/renamed", { text: "Edited text." });
    await herald.waitForLog(/Queued Update of renamed/, 5000);
    await sleep(1000);
    expect(count(herald.output(), /Queued Update of renamed/)).toBe(1);
  });

  it("publishes a burst of 1,000 files in a new sub-folder, in few scans", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { SCAN_SCHEDULE: NEVER } });
    const before = herald.output().length;
    const burst = join(folders.articles, "burst");
    mkdirSync(burst);
    for (let i = 0; i < 1000; i++) {
      writeFileSync(join(burst, `story-${i}.md`), `# Story ${i}\n\nNumber ${i} of the burst.`);
    }
    const deadline = Date.now() + 60_000;
    while ((await outboxTotal(herald)) < 1000 && Date.now() < deadline) await sleep(200);
    expect(await outboxTotal(herald)).toBe(1000);
    await untilPage(herald, "/articles/story-999", { text: "Number 999 of the burst." });

    // Each scan that read files logs a summary once its changes are handed on.
    const scans = () =>
      [
        ...herald
          .output()
          .slice(before)
          .matchAll(/Scanned \d+ files .*?: (\d+) created/g),
      ].map((match) => Number(match[1]));
    const created = () => scans().reduce((sum, n) => sum + n, 0);
    while (created() < 1000 && Date.now() < deadline) await sleep(200);
    expect(created()).toBe(1000);
    expect(scans().length).toBeLessThanOrEqual(10);
  });

  it("withdraws a removed file: a Delete, and the page is gone", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { SCAN_SCHEDULE: NEVER } });
    const file = join(folders.articles, "brief.md");
    writeFileSync(file, "# Brief\n\nShort-lived.");
    await untilPage(herald, "/articles/brief", { text: "Short-lived." });
    rmSync(file);
    await untilPage(herald, "/articles/brief", { status: 410 });
    await herald.waitForLog(/Queued Delete of brief/, 5000);
    expect(await outboxTotal(herald)).toBe(0);
  });

  it("with WATCH=false, publishes nothing until a scan", async () => {
    const folders = heraldFolders();
    let herald = await startHerald(folders, { env: { SCAN_SCHEDULE: NEVER, WATCH: "false" } });
    expect(herald.output()).toContain(`Not watching ${folders.articles} (WATCH=false)`);
    expect(herald.output()).not.toContain("Watching ");
    writeFileSync(join(folders.articles, "waits.md"), "# Waits\n\nFor the scan.");
    await sleep(2000);
    expect((await fetch(new URL("/articles/waits", herald.origin))).status).toBe(404);
    // The scan at start-up is the scan path.
    await herald.stop();
    herald = await startHerald(folders, {
      port: herald.port,
      env: { SCAN_SCHEDULE: NEVER, WATCH: "false" },
    });
    await untilPage(herald, "/articles/waits", { text: "For the scan." });
  });

  it("with WATCH=false, publishes on the cron schedule", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { WATCH: "false" } }); // every second
    expect(herald.output()).toContain(`Not watching ${folders.articles} (WATCH=false)`);
    writeFileSync(join(folders.articles, "cron.md"), "# Cron\n\nFound by the schedule.");
    await untilPage(herald, "/articles/cron", { text: "Found by the schedule." });
    await herald.waitForLog(/Queued Create of cron/, 5000);
    expect(await outboxTotal(herald)).toBe(1);
  });

  it("says once when the folder is replaced, and keeps publishing on the schedule", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders); // every second
    renameSync(folders.articles, join(folders.root, "articles-old"));
    mkdirSync(folders.articles);
    writeFileSync(join(folders.articles, "after.md"), "# After\n\nIn the new folder.");
    await untilPage(herald, "/articles/after", { text: "In the new folder.", timeoutMs: 10_000 });
    await herald.waitForLog(/Not watching .* \(the folder was removed or replaced\)/, 10_000);
    writeFileSync(join(folders.articles, "later.md"), "# Later\n\nStill published.");
    await untilPage(herald, "/articles/later", { text: "Still published." });
    expect(count(herald.output(), /Not watching/)).toBe(1);
  });
});
