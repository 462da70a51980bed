/**
 * The runs `bench/scan.ts` measures, each in a process of its own (so that each peak RSS is
 * its own): `node bench/scan-runs.ts MODE DIR [DATA_DIR]` prints one JSON result.
 *
 *   bare     list + stat + read + YAML + Markdown of every file: what any tool must do at least
 *   walk     list + stat of every file (median of 5): what any rescan must do at least
 *   herald   Herald's cold scan into an empty SQLite store, then 5 no-change rescans
 *   visible  into the store `herald` left: a new story written, the folder watcher, the scan of
 *            that file, the site rebuilt: until the home page shows it (median of 5 stories)
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import MarkdownIt from "markdown-it";
import { parse as parseYaml } from "yaml";
import { median } from "./report.ts";
import { newStory } from "./scan-articles.ts";

export interface RunResult {
  readonly ms: number;
  readonly maxRssMb: number;
  /** bare, herald: CPU time of the process (every thread) during `ms`. */
  readonly cpuMs?: number;
  /** herald: median of the no-change rescans. */
  readonly rescanMs?: number;
  /** herald: resident memory once Herald's modules are loaded, before the scan. */
  readonly loadedRssMb?: number;
  readonly articles?: number;
  /** visible: of `ms`, the scan of the new file and the site's rebuild (median). */
  readonly scanMs?: number;
  /** visible: a full scan (every file stat-ed) with the same new story, for comparison. */
  readonly fullMs?: number;
}

const [mode, dir, dataDir] = process.argv.slice(2);
if (dir === undefined) throw new Error("Usage: node bench/scan-runs.ts MODE DIR [DATA_DIR]");
const runs: Record<string, () => Promise<RunResult>> = {
  bare: async () => bare(dir),
  walk: async () => walk(dir),
  herald: () => herald(dir, dataDir ?? ""),
  visible: () => visible(dir, dataDir ?? ""),
};
const run = runs[mode ?? ""];
if (run === undefined) throw new Error(`Unknown mode ${mode}.`);
process.stdout.write(JSON.stringify(await run()));

function bare(dir: string): RunResult {
  const md = new MarkdownIt({ html: true, linkify: true });
  const cpu = process.cpuUsage();
  const start = performance.now();
  let articles = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    statSync(path);
    const text = readFileSync(path, "utf8");
    const end = text.indexOf("\n---\n", 4);
    parseYaml(text.slice(4, end));
    md.render(text.slice(end + 5));
    articles++;
  }
  return { ms: performance.now() - start, cpuMs: cpuSince(cpu), maxRssMb: maxRss(), articles };
}

function walk(dir: string): RunResult {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) statSync(join(entry.parentPath, entry.name));
    }
    times.push(performance.now() - start);
  }
  return { ms: median(times), maxRssMb: maxRss() };
}

async function herald(dir: string, dataDir: string): Promise<RunResult> {
  // Imported here, so that the baselines' processes load none of Herald.
  const { runScan } = await import("../src/pipeline.ts");
  const { SqliteArticleStore } = await import("../src/backends/sqlite/articles.ts");
  const loadedRssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
  const store = new SqliteArticleStore(new DatabaseSync(join(dataDir, "herald.sqlite")));
  const deps = { articlesDir: dir, parseOptions: { defaultLanguage: "en" }, store, publishers: [] };
  const cpu = process.cpuUsage();
  const start = performance.now();
  // Only the count is kept, as `npm start` keeps nothing of the report once it is logged: the
  // summaries of 100,000 changes would otherwise sit in memory through the rescans below.
  const articles = (await runScan(deps)).counted.created;
  const ms = performance.now() - start;
  const cpuMs = cpuSince(cpu);
  const rescans: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const again = await runScan(deps);
    rescans.push(performance.now() - t);
    if (again.read !== 0 || again.changes.length !== 0) throw new Error("rescan read files again");
  }
  await store.close();
  return { ms, cpuMs, rescanMs: median(rescans), maxRssMb: maxRss(), loadedRssMb, articles };
}

/** What a reader waits for after an editor saves a new story, through the real watcher. */
async function visible(dir: string, dataDir: string): Promise<RunResult> {
  const { runScan } = await import("../src/pipeline.ts");
  const { SqliteArticleStore } = await import("../src/backends/sqlite/articles.ts");
  const { createSite } = await import("../src/http/site.ts");
  const { watchArticles } = await import("../src/watch.ts");
  const { startSchedule } = await import("../src/schedule.ts");
  const store = new SqliteArticleStore(new DatabaseSync(join(dataDir, "herald.sqlite")));
  const origin = new URL("http://news.test");
  const site = createSite(store, {
    page: { origin, title: "News", description: "News", language: "en", handle: "@news@news.test" },
    feed: { origin, title: "News", author: "Desk" },
    limit: 50,
  });
  await store.subscribe(site.publisher.name);
  const deps = {
    articlesDir: dir,
    parseOptions: { defaultLanguage: "en" },
    store,
    publishers: [site.publisher],
  };
  const scans: number[] = [];
  let scanning = 0;
  // As main.ts: the watcher asks the schedule, which runs one scan at a time (a change during
  // one gets another after it).
  const schedule = startSchedule("0 0 1 1 *", async (paths) => {
    scanning++;
    scans.push((await runScan(deps, paths)).durationMs);
    scanning--;
  });
  const watch = watchArticles(dir, (paths) => void schedule.runAfterChange(paths));
  const shows = async (title: string) =>
    new TextDecoder().decode((await site.home()).identity.body).includes(title);
  await site.home(); // a running site has its home page built
  const waits: number[] = [];
  const written: string[] = [];
  for (let i = 0; i < 5; i++) {
    const title = `Late news ${i} at ${Date.now()}`;
    const path = join(dir, `late-${i}.md`);
    written.push(path);
    const start = performance.now();
    writeFileSync(path, newStory(title));
    while (!(await shows(title))) await new Promise((resolve) => setTimeout(resolve, 2));
    waits.push(performance.now() - start);
    // The scan and the site's rebuild are over, and the watcher's burst.
    while (scanning > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  watch.close();
  await schedule.stop();
  // The safety net's cost for the same change: every file stat-ed.
  const last = join(dir, "late-full.md");
  written.push(last);
  writeFileSync(last, newStory("Late news, found by the full scan"));
  const full = await runScan(deps);
  for (const path of written) rmSync(path);
  await store.close();
  return { ms: median(waits), scanMs: median(scans), fullMs: full.durationMs, maxRssMb: maxRss() };
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
}

function maxRss(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
