/**
 * RFC 5005 ("Feed Paging and Archiving"), section 4: archived feeds. The current feed links to
 * the newest archive page (`prev-archive`); each archive page holds a fixed run of older
 * articles, marks itself `fh:archive`, and links to its older and newer neighbours and to the
 * current feed. A reader following `prev-archive` sees every article ever published.
 */
import type { FeedHead, FeedPaths } from "./model.ts";
import { escapeXml } from "./xml.ts";

const historyNamespace = "http://purl.org/syndication/history/1.0";

/**
 * The archive elements of an RSS channel (`atom:` links; the atom namespace is declared on the
 * root) or an Atom feed (plain links), one per line; none without archives.
 */
export function archiveElements(head: FeedHead, format: "rss" | "atom"): string[] {
  const archive = head.archive;
  if (archive === undefined) return [];
  const link = format === "rss" ? "atom:link" : "link";
  const type = format === "rss" ? "application/rss+xml" : "application/atom+xml";
  const lines: string[] = [];
  const add = (rel: string, paths: FeedPaths | undefined) => {
    if (paths === undefined) return;
    const href = new URL(paths[format], head.home).href;
    lines.push(`<${link} rel="${rel}" type="${type}" href="${escapeXml(href)}"/>`);
  };
  add("current", archive.current);
  add("prev-archive", archive.prev);
  add("next-archive", archive.next);
  if (archive.isArchive) lines.push(`<fh:archive xmlns:fh="${historyNamespace}"/>`);
  return lines;
}

/** JSON Feed's paging: `next_url` leads to the next older page. */
export function archiveJsonFields(head: FeedHead): { next_url?: string } {
  const prev = head.archive?.prev;
  return prev === undefined ? {} : { next_url: new URL(prev.json, head.home).href };
}

/** Inserts `lines` right after the first `opening` tag of `xml`. */
export function insertAfter(xml: string, opening: RegExp, lines: readonly string[]): string {
  if (lines.length === 0) return xml;
  const match = opening.exec(xml);
  if (match === null) {
    throw new Error("The feed library's output no longer has the shape Herald patches.");
  }
  const end = match.index + match[0].length;
  return `${xml.slice(0, end)}\n${lines.map((line) => `    ${line}`).join("\n")}${xml.slice(end)}`;
}
