/**
 * `npm run bench [-- name…]`: runs each benchmark (or the named ones) in its own process,
 * one after the other; each writes its section of docs/BENCHMARKS.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const all = ["scan", "feeds", "hot-paths", "fanout", "cluster", "load"];
const wanted = process.argv.slice(2);
let failed = 0;
for (const name of wanted.length > 0 ? wanted : all) {
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  if (!existsSync(script)) {
    console.error(`No benchmark bench/${name}.ts.`);
    failed++;
    continue;
  }
  console.log(`\n== bench/${name}.ts`);
  const { status } = spawnSync(process.execPath, [script], { stdio: "inherit" });
  if (status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
