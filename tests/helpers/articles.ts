import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { onTestFinished } from "vitest";
import { SqliteArticleStore } from "../../src/backends/sqlite/articles.ts";

/** The first story, exactly as the editor handed it in. */
export const seedPath = new URL("../../articles/belarus-nordkorea.txt", import.meta.url);

/** A temporary folder removed when the test ends. */
export function tempDir(prefix = "herald-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A temporary articles folder with helpers to write files with distinct mtimes. */
export function articlesDir() {
  const dir = tempDir("herald-articles-");
  let tick = Date.parse("2026-01-01T00:00:00Z") / 1000;
  const write = (path: string, content: string | Uint8Array) => {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
    // Every write gets a new mtime, as a real edit minutes apart would.
    tick += 60;
    utimesSync(full, tick, tick);
    return full;
  };
  const remove = (path: string) => rmSync(join(dir, path));
  return { dir, write, remove, path: (p: string) => join(dir, p) };
}

/** An SQLite article store on a file in a temp folder; `reopen()` simulates a restart. */
export function sqliteStore(file = join(tempDir("herald-data-"), "herald.sqlite")) {
  const open = () => new SqliteArticleStore(new DatabaseSync(file));
  let store = open();
  onTestFinished(() => store.close());
  return {
    file,
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = open();
      return store;
    },
  };
}
