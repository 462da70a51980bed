/**
 * The "Cost curves" section at the top of docs/BENCHMARKS.md (issue #17): one table per
 * dimension (articles, follower servers, the followers collection, concurrent readers, the hot
 * paths), each row the latest run of its size, every figure next to its baseline of the same run,
 * and a sentence on where the remaining gap goes. The benchmarks record their rows
 * (`recordCurve()`) in docs/benchmark-figures.json, and the section is written again from it, so
 * a single benchmark run updates its rows and keeps the others'.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { metOrMissed, writeSection } from "./report.ts";

const file = new URL("../docs/benchmark-figures.json", import.meta.url);
const TITLE = "Cost curves (issue #17)";

interface Dimension {
  readonly title: string;
  /** The command of a default run (a row measured otherwise names its own). */
  readonly command: string;
  /** What is measured against what (a sentence or two). */
  readonly what: string;
  readonly columns: readonly string[];
  /** Where the remaining gap to the limit goes: one sentence, re-read when the figures move. */
  readonly gap: string;
}

const dimensions = {
  articles: {
    title: "Articles",
    command: "node bench/scan.ts",
    what: "A cold first scan against the bare parse of the same folder (list, stat, read, YAML, Markdown), a no-change safety-net rescan against the bare stat walk, a new story from its write to the home page against the same at 100 articles. Targets: cold ≤ 2.5× and rescan ≤ 1.5× at 10,000 and 100,000, peak ≤ 250 MB at 100,000, write → visible ≤ 1.5× the time at 100.",
    columns: [
      "articles",
      "cold scan ÷ bare parse",
      "peak RSS",
      "rescan ÷ stat walk",
      "write → visible ÷ at 100",
    ],
    gap: "the cold scan also stores each article with its tags, file stamp and change event (about two fifths of the main thread's time at 100,000), detects its language (CLD3, about 60 µs an article, on the second thread) and collects the garbage of both; the bare parse does none of that.",
  },
  followers: {
    title: "Follower servers",
    command: "BENCH_HOSTS=1000 node bench/fanout.ts",
    what: "One new story, its correction and its removal, from the file write to the last server holding the verified activity, against a bare script that signs (RSA, draft-cavage) and POSTs the same activity to the same shared inboxes right after, on the same machine; 10 followers on each server. Targets: ≤ 1.5× the baseline, peak ≤ 300 MB, exactly one delivery per server.",
    columns: [
      "servers (followers)",
      "Create ÷ baseline",
      "Update ÷ baseline",
      "Delete ÷ baseline",
      "CPU per delivery: Herald / baseline",
      "peak RSS",
      "exactly one per server",
    ],
    gap: "before the first delivery, about 90 ms go to the watcher's 50 ms of quiet, the scan and Fedify's Linked Data signature of the activity; after it, the signatures cost Herald what they cost the script (in the thread pool), and its main thread spends about as much again on what the script has not: undici's requests, a connection per server, the delivery ledger's SQLite writes and garbage collection.",
  },
  collection: {
    title: "Followers collection",
    command: "node bench/followers.ts",
    what: "The followers collection and its pages at 100,000 followers on 10,000 servers, each request timed from outside. Target: each answered in < 50 ms (median).",
    columns: [
      "engine (followers)",
      "collection, median / p99",
      "every page, median / p99",
      "FEP-8fcf sync of one server, median",
    ],
    gap: "the collection's `totalItems` is one count over the followers' index, and its pages are keyset pages read from the same index: what is left is the HTTP round trip and the JSON-LD answer.",
  },
  readers: {
    title: "Concurrent readers",
    command: "node bench/hot-paths.ts",
    what: "The home page (200) to more and more connections, Herald against a bare `node:http` server answering the same bytes and headers, in the same run: five rounds, each a new pair of processes loaded at the same time on one core (the latest runs counted since that method, 2026-12-08). Target: ≥ 0.9× the bare server.",
    columns: ["readers (connections)", "Herald ÷ bare, req/s", "p99 latency: Herald / bare"],
    gap: "both servers spend most of their time in the kernel's socket reads and writes and in Node's HTTP and stream code; Herald's extra is spread thinly over that same code, which in Herald's larger process sees more kinds of objects (V8's megamorphic property look-ups, measured with `perf` on 2026-12-07: 2.0–2.2% of Herald's CPU samples against 0.6–1.1% of the bare server's).",
  },
  hotPaths: {
    title: "Hot paths",
    command: "node bench/hot-paths.ts",
    what: "Each feed and page, 200 and 304, Herald against a bare `node:http` server answering the same bytes and headers, in the same run: five rounds, each a new pair of processes loaded at the same time on one core (the latest runs counted since that method, 2026-12-08: two identical servers loaded one after the other came out at 0.56–1.41× of each other). Target: ≥ 0.9× the bare server.",
    columns: ["path", "answer", "Herald ÷ bare, req/s"],
    gap: "Herald's own JavaScript per request (its look-ups, the header list, the conditional check) is about 3% of its CPU samples; the rest is spread as for the concurrent readers, over Node's shared HTTP and stream code in a larger process, and is smaller than what fresh processes of the same code differ by (the rounds of one run: 0.87–1.53×).",
  },
} satisfies Record<string, Dimension>;

export type DimensionName = keyof typeof dimensions;

interface StoredRow {
  /** Sorts the rows of a dimension (a size, or the order of the paths). */
  readonly order: number;
  readonly cells: readonly string[];
  /** ISO time, UTC, and the command that measured it. */
  readonly measured: string;
  readonly command: string;
  /**
   * Whether the row met its targets in each of its latest runs (`RECENT_RUNS`, oldest first),
   * this one included; null for a run with no target in it.
   */
  readonly recent?: readonly (boolean | null)[];
}

/** How many runs of a row the page counts, so that one lucky or unlucky run does not speak alone. */
const RECENT_RUNS = 5;

/** Whether `cells` met every target they state; null if they state none. */
function metAll(cells: readonly string[]): boolean | null {
  if (cells.some((cell) => cell.includes(`(${metOrMissed(false)})`))) return false;
  return cells.some((cell) => cell.includes(`(${metOrMissed(true)})`)) ? true : null;
}

type Stored = Partial<Record<DimensionName, Record<string, StoredRow>>>;

export interface CurveRow {
  /** Sorts the rows and tells them apart: a later row of the same order replaces the earlier. */
  readonly order: number;
  /** One per column of the dimension (the first names the size). */
  readonly cells: readonly string[];
}

/** A ratio with its two sides: `26.1 s ÷ 11.1 s = 2.36×`, with the verdict if a target is given. */
export function ratioCell(
  value: number,
  baseline: number,
  unit: string,
  target?: { readonly atMost?: number; readonly atLeast?: number },
): string {
  const ratio = value / baseline;
  const sides = `${format(value)}${unit} ÷ ${format(baseline)}${unit} = ${ratio.toFixed(2)}×`;
  return target === undefined ? sides : `${sides} ${verdict(ratio, target)}`;
}

/** `(met)` or `(**missed**)` for `value` against its target. */
export function verdict(
  value: number,
  target: { readonly atMost?: number; readonly atLeast?: number },
): string {
  const met =
    (target.atMost === undefined || value <= target.atMost) &&
    (target.atLeast === undefined || value >= target.atLeast);
  return `(${metOrMissed(met)})`;
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en") : value.toPrecision(3);
}

/** Keeps `rows` as the latest of their dimension (by their order) and rewrites the section. */
export function recordCurve(
  dimension: DimensionName,
  rows: readonly CurveRow[],
  command: string,
): void {
  const stored: Stored = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  const kept = { ...stored[dimension] };
  const measured = new Date().toISOString().slice(0, 16).replace("T", " ");
  for (const row of rows) {
    const before = kept[String(row.order)];
    const recent = [...recentOf(before), metAll(row.cells)].slice(-RECENT_RUNS);
    kept[String(row.order)] = { ...row, measured, command, recent };
  }
  stored[dimension] = kept;
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`);
  writeSection(TITLE, render(stored), { stamped: false });
}

/** A stored row's latest verdicts (a row written before they were kept: its own). */
function recentOf(row: StoredRow | undefined): readonly (boolean | null)[] {
  if (row === undefined) return [];
  return row.recent ?? [metAll(row.cells)];
}

/** "3 of 5": in how many of the row's latest runs with a target it met every one. */
function recentCell(row: StoredRow): string {
  const targeted = recentOf(row).filter((met) => met !== null);
  if (targeted.length === 0) return "–";
  return `${targeted.filter((met) => met).length} of ${targeted.length}`;
}

/** When (UTC), and the command if it was not the dimension's default run. */
function measuredCell(row: StoredRow, dimension: Dimension): string {
  return row.command === dimension.command ? row.measured : `${row.measured} (\`${row.command}\`)`;
}

function render(stored: Stored): string {
  const parts = [
    `How each cost grows with the work: every figure is next to its baseline, measured in the same run on the same machine; a row is the latest run of its size (\`npm run bench\`, or the single benchmark named), with the number of its latest runs (up to ${RECENT_RUNS}) that met every target in it, since one run on a shared machine can fall either side of a target; its section below has the full table, the rounds and the profiles. Earlier runs, machine by machine, with what each session changed and tried: [benchmarks-history.md](benchmarks-history.md).`,
  ];
  for (const [name, dimension] of Object.entries(dimensions) as [DimensionName, Dimension][]) {
    const rows = Object.values(stored[name] ?? {}).sort((a, b) => a.order - b.order);
    if (rows.length === 0) continue;
    const header = [...dimension.columns, "targets met, latest runs", "measured (UTC)"];
    parts.push(
      [
        `**${dimension.title}** (\`${dimension.command}\`). ${dimension.what}`,
        "",
        `| ${header.join(" | ")} |`,
        `|${header.map(() => "---").join("|")}|`,
        ...rows.map(
          (row) =>
            `| ${[...row.cells, recentCell(row), measuredCell(row, dimension)].join(" | ")} |`,
        ),
        "",
        `Where the gap goes: ${dimension.gap}`,
      ].join("\n"),
    );
  }
  return parts.join("\n\n");
}
