import { EventEmitter } from "node:events";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { startSchedule } from "../src/schedule.ts";
import { type ArticleWatch, type WatchFolder, watchArticles } from "../src/watch.ts";
import { tempDir } from "./helpers/articles.ts";
import { captureLog, logText as text } from "./helpers/log.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Watches `dir` with short delays; counts the calls. */
function watchCounting(dir: string, options: Parameters<typeof watchArticles>[2] = {}) {
  const calls: number[] = [];
  const watch = watchArticles(dir, () => calls.push(Date.now()), {
    quietMs: 100,
    maxWaitMs: 500,
    ...options,
  });
  onTestFinished(() => watch.close());
  return { calls, watch };
}

describe("watchArticles()", () => {
  it("calls once for a burst of writes, after the folder is quiet", async () => {
    const dir = tempDir();
    const { calls, watch } = watchCounting(dir, { maxWaitMs: 5000 }); // a slow moment may not split the burst
    expect(watch.active).toBe(true);
    for (let i = 0; i < 50; i++) writeFileSync(join(dir, `a-${i}.md`), `# A ${i}`);
    await expect.poll(() => calls.length, { timeout: 5000 }).toBeGreaterThan(0);
    await sleep(300);
    expect(calls).toHaveLength(1);
  });

  it("names the files a burst changed, relative to the folder, or none when a folder came", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "sub"));
    const named: (readonly string[] | undefined)[] = [];
    const watch = watchArticles(dir, (paths) => named.push(paths), {
      quietMs: 100,
      maxWaitMs: 5000,
    });
    onTestFinished(() => watch.close());
    writeFileSync(join(dir, "a.md"), "# A");
    writeFileSync(join(dir, "sub", "b.md"), "# B");
    writeFileSync(join(dir, "sub", ".b.md.swp"), "swap");
    await expect.poll(() => named.length, { timeout: 5000 }).toBe(1);
    expect([...(named[0] ?? ["(every file)"])].sort()).toEqual(["a.md", "sub/b.md"]);
    mkdirSync(join(dir, "new"));
    await expect.poll(() => named.length, { timeout: 5000 }).toBe(2);
    expect(named[1]).toBeUndefined();
  });

  it("calls even while changes keep coming, at most maxWaitMs after the first", async () => {
    const dir = tempDir();
    const { calls } = watchCounting(dir);
    // Writes every 20 ms never leave the folder quiet for 100 ms: only maxWaitMs can call.
    // Written until two calls came, or for 10 s on a machine too loaded to call in time.
    const started = Date.now();
    while (calls.length < 2 && Date.now() - started < 10_000) {
      writeFileSync(join(dir, "live.md"), `# Live\n\n${Date.now()}`);
      await sleep(20);
    }
    expect(calls.length).toBeGreaterThanOrEqual(2);
  });

  it("ignores editors' swap, backup and lock files, and vim's probe", async () => {
    const dir = tempDir();
    const { calls } = watchCounting(dir);
    for (const name of [
      ".story.md.swp",
      "story.md~",
      "#story.md#",
      ".#story.md",
      ".~lock.story.md#",
      "4913",
      "story.md.tmp",
      "photo.jpg",
    ]) {
      writeFileSync(join(dir, name), "x");
    }
    await sleep(400);
    expect(calls).toEqual([]);
    renameSync(join(dir, "story.md.tmp"), join(dir, "story.md"));
    await expect.poll(() => calls.length, { timeout: 5000 }).toBe(1);
  });

  it("watches folders made after it started, and what is moved in", async () => {
    const dir = tempDir();
    const { calls } = watchCounting(dir);
    mkdirSync(join(dir, "2026", "12"), { recursive: true });
    await expect.poll(() => calls.length, { timeout: 5000 }).toBe(1);
    writeFileSync(join(dir, "2026", "12", "deep.md"), "# Deep");
    await expect.poll(() => calls.length, { timeout: 5000 }).toBe(2);
    const outside = tempDir();
    mkdirSync(join(outside, "desk"));
    renameSync(join(outside, "desk"), join(dir, "desk"));
    await expect.poll(() => calls.length, { timeout: 5000 }).toBe(3);
    writeFileSync(join(dir, "desk", "moved.md"), "# Moved");
    await expect.poll(() => calls.length, { timeout: 5000 }).toBe(4);
  });

  it("with WATCH=false, says so and watches nothing", async () => {
    const log = await captureLog();
    const dir = tempDir();
    const { calls, watch } = watchCounting(dir, { enabled: false });
    expect(watch.active).toBe(false);
    writeFileSync(join(dir, "story.md"), "# Story");
    await sleep(300);
    expect(calls).toEqual([]);
    expect(log.map(text)).toEqual([
      `Not watching ${dir} (WATCH=false): changes are published at the next scheduled scan.`,
    ]);
  });

  it("says once that it cannot watch when fs.watch throws, and stops", async () => {
    const log = await captureLog();
    const dir = tempDir();
    const failing: WatchFolder = () => {
      throw Object.assign(new Error("watch not supported"), { code: "ENOSYS" });
    };
    const { watch } = watchCounting(dir, { watch: failing });
    expect(watch.active).toBe(false);
    const warnings = log.filter((r) => r.level === "warning").map(text);
    expect(warnings).toEqual([
      `Not watching ${dir} (watch not supported): changes are published at the next scheduled scan.`,
    ]);
    expect(log.map(text).some((line) => line.startsWith("Watching"))).toBe(false);
  });

  it("gives up on all folders, saying why once, when the inotify limit stops one", async () => {
    const log = await captureLog();
    const dir = tempDir();
    for (const folder of ["a", "b", "c"]) mkdirSync(join(dir, folder));
    const open = new Set<string>();
    const limited: WatchFolder = (folder) => {
      if (open.size === 2) throw Object.assign(new Error("no space"), { code: "ENOSPC" });
      open.add(folder);
      return Object.assign(new EventEmitter(), { close: () => open.delete(folder) });
    };
    const { watch } = watchCounting(dir, { watch: limited });
    expect(watch.active).toBe(false);
    expect(open.size).toBe(0);
    expect(log.filter((r) => r.level === "warning").map(text)).toEqual([
      `Not watching ${dir} (the system's inotify watch limit is reached: raise fs.inotify.max_user_watches): changes are published at the next scheduled scan.`,
    ]);
  });

  it("says once when watching fails later, and the schedule keeps scanning", async () => {
    const log = await captureLog();
    const dir = tempDir();
    const emitters: EventEmitter[] = [];
    const failsLater: WatchFolder = () => {
      const emitter = Object.assign(new EventEmitter(), { close: () => {} });
      emitters.push(emitter);
      return emitter;
    };
    let scans = 0;
    const schedule = startSchedule("* * * * * *", async () => {
      scans++;
    });
    onTestFinished(() => schedule.stop());
    const watch: ArticleWatch = watchArticles(dir, () => void schedule.runAfterChange(), {
      watch: failsLater,
    });
    expect(watch.active).toBe(true);
    for (const emitter of emitters) emitter.emit("error", new Error("stale NFS file handle"));
    emitters[0]?.emit("error", new Error("stale NFS file handle"));
    expect(watch.active).toBe(false);
    const warnings = log.filter((r) => r.level === "warning").map(text);
    expect(warnings).toEqual([
      `Not watching ${dir} (stale NFS file handle): changes are published at the next scheduled scan.`,
    ]);
    await expect.poll(() => scans, { timeout: 3000 }).toBeGreaterThanOrEqual(1);
  });

  it("says once when the folder is replaced, and stops", async () => {
    const log = await captureLog();
    const parent = tempDir();
    const dir = join(parent, "articles");
    mkdirSync(dir);
    const { calls, watch } = watchCounting(dir, { checkEveryMs: 100 });
    renameSync(dir, join(parent, "old"));
    mkdirSync(dir);
    await expect.poll(() => watch.active, { timeout: 5000 }).toBe(false);
    writeFileSync(join(dir, "new.md"), "# New");
    await sleep(300);
    const warnings = log.filter((r) => r.level === "warning").map(text);
    expect(warnings).toEqual([
      `Not watching ${dir} (the folder was removed or replaced): changes are published at the next scheduled scan.`,
    ]);
    expect(calls.length).toBeLessThanOrEqual(1); // the move itself, nothing after
  });
});
