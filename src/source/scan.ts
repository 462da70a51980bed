import { lstatSync, readdirSync, realpathSync, type Stats, statSync } from "node:fs";
import { join, sep } from "node:path";
import type { FileStamp, Skipped } from "../store/store.ts";
import { AUTHORS_FILE } from "./authors.ts";

/** A file found in `ARTICLES_DIR`, with a path relative to it using `/`. */
export interface FoundFile {
  readonly path: string;
  readonly absolutePath: string;
  readonly stamp: FileStamp;
}

/**
 * A found file that makes its absolute path when asked: a rescan of 100,000 files holds them all
 * at once, and a read needs the path of only the few that changed (issue #17).
 */
class FoundInFolder implements FoundFile {
  readonly path: string;
  readonly stamp: FileStamp;
  readonly #root: string;

  constructor(root: string, path: string, stamp: FileStamp) {
    this.#root = root;
    this.path = path;
    this.stamp = stamp;
  }

  get absolutePath(): string {
    return join(this.#root, ...this.path.split("/"));
  }
}

/** Files that sit beside articles and are served as media, not reported as bad articles. */
export const mediaExtensions = [".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg"] as const;

/**
 * Lists every candidate article file below `dir` with its size and mtime, without reading
 * any. Hidden files and folders, editor backups and media files are left out; a symbolic link
 * pointing outside `dir` is refused, and linked folders are not entered. Synchronous on
 * purpose: stat-ing 10,000 files this way takes a few milliseconds, far less than the same
 * number of promises. It walks folder by folder: `readdirSync`'s own `recursive` option
 * stats every entry once more to find the folders, which the entry's type already tells.
 */
export function listArticleFiles(dir: string): { files: FoundFile[]; refused: Skipped[] } {
  const root = realpathSync(dir);
  const found = new Found(root);
  const walk = (folder: string, prefix: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const absolutePath = join(folder, entry.name);
      const path = prefix + entry.name;
      if (entry.isDirectory()) {
        walk(absolutePath, `${path}/`);
        continue;
      }
      if (isIgnoredFile(entry.name)) continue;
      // The authors file (`authors.ts`) is read by the scan, not published.
      if (prefix === "" && entry.name === AUTHORS_FILE) continue;
      if (entry.isSymbolicLink() || entry.isFile()) {
        found.add(absolutePath, path, entry.isSymbolicLink());
      }
    }
  };
  walk(root, "");
  return { files: found.files, refused: found.refused };
}

/**
 * The files among `paths` (relative to `dir`, with `/`) that the scan would find, stat-ed as
 * `listArticleFiles()` does, and those of `paths` that are not there (any more): what a scan of
 * just the files the folder watcher named needs, however many others the folder holds.
 */
export function findArticleFiles(
  dir: string,
  paths: readonly string[],
): { files: FoundFile[]; refused: Skipped[]; missing: string[] } {
  const root = realpathSync(dir);
  const found = new Found(root);
  const missing: string[] = [];
  for (const path of new Set(paths)) {
    const parts = path.split("/");
    if (parts.some((part) => part.startsWith(".") || part === "")) continue;
    if (isIgnoredFile(parts.at(-1) ?? "") || path === AUTHORS_FILE) continue;
    const absolutePath = join(root, ...parts);
    let stats: Stats;
    try {
      stats = lstatSync(absolutePath);
    } catch {
      missing.push(path);
      continue;
    }
    if (stats.isSymbolicLink() || stats.isFile()) {
      found.add(absolutePath, path, stats.isSymbolicLink());
    } else missing.push(path); // a folder now, or something else: no article file
  }
  return { files: found.files, refused: found.refused, missing };
}

/** The files found and refused so far; `add()` checks a link's target and stats the file. */
class Found {
  readonly files: FoundFile[] = [];
  readonly refused: Skipped[] = [];
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  /** A regular file or a symbolic link (`absolutePath`), found at `path`. */
  add(absolutePath: string, path: string, isLink: boolean): void {
    const root = this.#root;
    if (isLink) {
      const target = safeRealpath(absolutePath);
      if (target === undefined || !(target === root || target.startsWith(root + sep))) {
        this.refused.push({
          path,
          reason: "a symbolic link to a place outside the articles folder",
        });
        return;
      }
    }
    try {
      const stats = statSync(absolutePath);
      if (!stats.isFile()) return;
      this.files.push(
        new FoundInFolder(this.#root, path, { size: stats.size, mtimeMs: stats.mtimeMs }),
      );
    } catch {
      this.refused.push({ path, reason: "the file cannot be read" });
    }
  }
}

/**
 * Whether a file of this name is left out of the scan: hidden files (vim's `.story.md.swp`,
 * LibreOffice's `.~lock.story.md#`, Emacs's `.#story.md`), editors' backups and autosaves
 * (`story.md~`, `#story.md#`, `story.md___jb_tmp___`), temporary files, vim's `4913` probe
 * of whether it may write the folder, and media. The folder watcher uses it too, so that an
 * editor's save publishes once, when the article itself changes.
 */
export function isIgnoredFile(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower.startsWith(".") ||
    lower.endsWith("~") ||
    (lower.startsWith("#") && lower.endsWith("#")) ||
    lower.endsWith(".swp") ||
    lower.endsWith(".tmp") ||
    lower.endsWith("___jb_tmp___") ||
    lower.endsWith("___jb_old___") ||
    lower === "4913" ||
    mediaExtensions.some((ext) => lower.endsWith(ext))
  );
}

function safeRealpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
