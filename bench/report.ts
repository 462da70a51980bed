import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { DEPLOYED_ENV } from "../tests/helpers/herald-spawn.ts";

const file = new URL("../docs/BENCHMARKS.md", import.meta.url);
const header = `# Benchmarks

Figures from \`npm run bench\` (or the single script named in each section), on the project's
2-core machine. The machines are shared and noisy: each section compares against a baseline
measured in the same run, and the ratios are what counts.
`;

/**
 * Replaces (or appends) the section `## title` of docs/BENCHMARKS.md, opening with when and where
 * it was measured (`stamped: false` leaves that out, for a section whose rows say it each).
 */
export function writeSection(title: string, body: string, options = { stamped: true }): void {
  const text = existsSync(file) ? readFileSync(file, "utf8") : header;
  const heading = `## ${title}`;
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const stamp = `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${machine}.\n\n`;
  const section = `${heading}\n\n${options.stamped ? stamp : ""}${body.trim()}\n`;
  const start = text.indexOf(`${heading}\n`);
  let next = start === -1 ? -1 : text.indexOf("\n## ", start + heading.length);
  if (next !== -1) next += 1;
  const updated =
    start === -1
      ? `${text.trimEnd()}\n\n${section}`
      : `${text.slice(0, start)}${section}${next === -1 ? "" : `\n${text.slice(next)}`}`;
  writeFileSync(file, updated);
}

/** How a report says whether a target was met. */
export function metOrMissed(met: boolean): string {
  return met ? "met" : "**missed**";
}

/** The middle value (the upper one of an even count); 0 for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** `npm start`'s V8 flags (the `start` script of package.json), e.g. `--max-semi-space-size=8`. */
export function npmStartFlags(): string[] {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  return String(pkg.scripts.start)
    .split(/\s+/)
    .filter((word) => word.startsWith("--"));
}

/**
 * The heap limit Herald runs with as deployed (the Dockerfile's `NODE_OPTIONS`, the README's
 * service unit): with it V8 collects as it goes instead of letting garbage pile up while a
 * limit derived from the machine's memory is far away (docs/BENCHMARKS.md, "Load").
 * `BENCH_HEAP_MB=none` measures with `npm start`'s own flags alone.
 */
export function deployedHeapFlags(): string[] {
  const megabytes = process.env.BENCH_HEAP_MB ?? "256";
  return megabytes === "none" ? [] : [`--max-old-space-size=${megabytes}`];
}

/** `npm start`'s V8 flags with the deployed heap limit: the flags Herald runs with as deployed. */
export function deployedNodeFlags(): string[] {
  return [...npmStartFlags(), ...deployedHeapFlags()];
}

/** `MALLOC_ARENA_MAX=2`: the environment Herald is deployed with, as a report shows it. */
export function deployedEnvText(): string {
  return Object.entries(DEPLOYED_ENV)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
}
