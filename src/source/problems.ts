import type { RemovedElement } from "../article.ts";
import type { Skipped } from "../store/store.ts";

// One wording for the scan's log, `articles:check` and `preview`, so an author reads the same
// thing wherever they look (issue #15.4, #15.7).

/** `path:line` where the line is known, else `path`. */
export function fileLine(path: string, line: number | undefined): string {
  return line ? `${path}:${line}` : path;
}

/** What became of an element the sanitiser removed. */
export function removalMessage({ element, linked }: Omit<RemovedElement, "line">): string {
  return linked
    ? `${element} removed (embeds do not play here); a link to its source is left in its place`
    : `${element} removed (not allowed in articles)`;
}

/** Why a file was skipped, and, when it broke after being published, that readers keep the old version. */
export function skippedMessage(skipped: Skipped, published: boolean): string {
  return published
    ? `${skipped.reason}; its last good version stays published until the file is fixed`
    : skipped.reason;
}
