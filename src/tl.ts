import { appendFileSync } from "node:fs";

const seen = new Set<string>();
export function tl(what: string, once = true): void {
  if (once && seen.has(what)) return;
  seen.add(what);
  appendFileSync(
    "/tmp/tl.log",
    `${(performance.timeOrigin + performance.now()).toFixed(1)} ${what}\n`,
  );
}
export function tlReset(): void {
  seen.clear();
}
(globalThis as { __tl?: (w: string) => void }).__tl = (w) => tl(w);
