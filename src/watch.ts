import { lstatSync, readdirSync, type Stats, statSync, watch } from "node:fs";
import { join, relative, sep } from "node:path";
import { getLogger } from "@logtape/logtape";
import { isIgnoredFile } from "./source/scan.ts";

const logger = getLogger(["herald", "watch"]);

/** Watches one folder, not its sub-folders: `fs.watch` by default; tests hand in a failing one. */
export type WatchFolder = (
  folder: string,
  listener: (event: string, name: string | null) => void,
) => FolderWatcher;

/** What is used of an `fs.FSWatcher`. */
export interface FolderWatcher {
  close(): void;
  on(event: "error", listener: (error: Error) => void): unknown;
}

export interface WatchOptions {
  /** `WATCH`; false: only says that changes wait for the scheduled scan. */
  readonly enabled?: boolean;
  /** Called once the folder has been quiet this long after a change. */
  readonly quietMs?: number;
  /** …or this long after the first change, when changes keep coming (a long copy). */
  readonly maxWaitMs?: number;
  /** How often to check that the folder is still the one watched (a replaced symlink makes no event). */
  readonly checkEveryMs?: number;
  readonly watch?: WatchFolder;
}

export interface ArticleWatch {
  /** Whether changes are still being watched; false once watching failed or was closed. */
  readonly active: boolean;
  close(): void;
}

const watchFolder: WatchFolder = (folder, listener) =>
  watch(folder, { persistent: false }, listener);

/**
 * Watches `dir` and its sub-folders and calls `onChange` once a burst of changes to article
 * files is over: a save is often several events (write in chunks, temp file + rename), and
 * a copy of 1,000 files thousands. It names the files that changed (relative to `dir`, with
 * `/`), so that the scan looks at them only, or nothing when a folder changed or the platform
 * did not say what changed: then the scan looks at every file. Editors' swap and backup files are ignored as the scan
 * ignores them (`isIgnoredFile`). Where watching fails (a network file system, too many
 * folders for the inotify limit, the folder removed or replaced) it says so once and stops:
 * the scheduled scan still publishes everything, just later.
 *
 * One watcher per folder rather than `fs.watch(dir, { recursive: true })`: on Linux, Node 24
 * implements that with one inotify watch per file, set up synchronously: 0.6 s and 5,000
 * watches for 5,000 articles, and the inotify limit is shared with every other program.
 */
export function watchArticles(
  dir: string,
  onChange: (paths?: readonly string[]) => void,
  options: WatchOptions = {},
): ArticleWatch {
  const {
    enabled = true,
    quietMs = DEFAULT_QUIET_MS,
    maxWaitMs = 1000,
    checkEveryMs = 5000,
  } = options;
  if (!enabled) {
    logger.info(
      "Not watching {dir} (WATCH=false): changes are published at the next scheduled scan.",
      { dir },
    );
    return { active: false, close: () => {} };
  }
  const root = identity(dir);
  let closed = false;
  const stop = (): void => {
    closed = true;
    burst.cancel();
    clearInterval(checker);
    tree.close();
  };
  const fail = (why: string): void => {
    if (closed) return;
    stop();
    logger.warn("Not watching {dir} ({why}): changes are published at the next scheduled scan.", {
      dir,
      why,
    });
  };
  const checkRoot = (): void => {
    if (closed) return;
    if (root === undefined || identity(dir) !== root) fail("the folder was removed or replaced");
  };
  const burst = debounce(
    (paths) => {
      checkRoot();
      onChange(paths);
    },
    quietMs,
    maxWaitMs,
  );
  const tree = watchTree(dir, options.watch ?? watchFolder, {
    changed: (path) => {
      if (!closed) burst.changed(path);
    },
    failed: fail,
  });
  const checker = setInterval(checkRoot, checkEveryMs);
  checker.unref();
  if (root === undefined) fail("the folder cannot be read");
  else tree.add(dir);
  if (!closed) {
    logger.info("Watching {dir}: a changed article is published within a second.", { dir });
  }
  return {
    get active() {
      return !closed;
    },
    close: stop,
  };
}

/**
 * How long the folder must be quiet before a change is read. Programs write a file in one go
 * or in chunks back to back (editors, `git`, copies): 50 ms leaves them ample time, and every
 * 50 ms more is 50 ms later on the site and on every follower's screen.
 */
export const DEFAULT_QUIET_MS = 50;

/** More files than this in one burst, and the scan looks at every file: a walk costs less. */
const NAMED_LIMIT = 10_000;

/**
 * Calls `fn` once changes stop for `quietMs`, or `maxWaitMs` after the first of a burst,
 * whichever comes first, with the paths changed in the burst (none: every file may have).
 */
function debounce(fn: (paths?: readonly string[]) => void, quietMs: number, maxWaitMs: number) {
  let timer: NodeJS.Timeout | undefined;
  let first: number | undefined;
  let paths: Set<string> | undefined = new Set();
  return {
    changed(path: string | undefined): void {
      const now = Date.now();
      first ??= now;
      if (path === undefined || (paths?.size ?? 0) >= NAMED_LIMIT) paths = undefined;
      else paths?.add(path);
      clearTimeout(timer);
      const wait = Math.max(0, Math.min(quietMs, first + maxWaitMs - now));
      timer = setTimeout(() => {
        const named = paths === undefined ? undefined : [...paths];
        first = undefined;
        paths = new Set();
        fn(named);
      }, wait);
    },
    cancel(): void {
      clearTimeout(timer);
    },
  };
}

/**
 * Watches `dir`'s folders, each with its own watcher, following folders made, moved in,
 * removed and moved away; reports the events that may change what the scan finds: the file's
 * path (relative to `dir`, with `/`), or none when a folder changed.
 */
function watchTree(
  dir: string,
  watchOne: WatchFolder,
  on: { readonly changed: (path?: string) => void; readonly failed: (why: string) => void },
) {
  const watchers = new Map<string, FolderWatcher>();
  let closed = false;
  const onEvent = (folder: string, event: string, name: string | null): void => {
    // Some platforms do not say which entry changed: scan everything.
    if (name === null) on.changed();
    else if (isFolderEvent(folder, event, name)) on.changed();
    else if (!isIgnoredFile(name))
      on.changed(relative(dir, join(folder, name)).split(sep).join("/"));
  };
  /** A folder created, moved in, removed or moved away: its files are not named one by one. */
  const isFolderEvent = (folder: string, event: string, name: string): boolean => {
    if (event !== "rename") return false;
    const path = join(folder, name);
    // A folder created or moved in is watched too (like the scan, not a hidden one).
    if (!name.startsWith(".") && isFolder(path)) {
      add(path);
      return true;
    }
    if (!watchers.has(path)) return false;
    forget(path);
    return true;
  };
  /** A sub-folder gone (removed before or after its watch started) is no failure. */
  const failed = (folder: string, error: unknown): void => {
    if (folder !== dir && !isFolder(folder)) forget(folder);
    else on.failed(errorText(error));
  };
  const add = (folder: string): void => {
    if (closed || watchers.has(folder)) return;
    try {
      const watcher = watchOne(folder, (event, name) => onEvent(folder, event, name));
      watcher.on("error", (error: Error) => failed(folder, error));
      watchers.set(folder, watcher);
      for (const entry of readdirSync(folder, { withFileTypes: true })) {
        // Like the scan: hidden folders and linked folders are not entered.
        if (entry.isDirectory() && !entry.name.startsWith(".")) add(join(folder, entry.name));
      }
    } catch (error) {
      failed(folder, error);
    }
  };
  const forget = (folder: string): void => {
    for (const [path, watcher] of watchers) {
      if (path === folder || path.startsWith(folder + sep)) {
        watcher.close();
        watchers.delete(path);
      }
    }
  };
  return {
    add,
    close(): void {
      closed = true;
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

/** Device and inode of the folder `dir` names now (through symbolic links). */
function identity(dir: string): string | undefined {
  let stats: Stats;
  try {
    stats = statSync(dir);
  } catch {
    return undefined;
  }
  return stats.isDirectory() ? `${stats.dev}:${stats.ino}` : undefined;
}

function isFolder(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code === "ENOSPC"
    ? "the system's inotify watch limit is reached: raise fs.inotify.max_user_watches"
    : message;
}
