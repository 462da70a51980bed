import { escapeHtml } from "../escape.ts";
import type { Draft } from "./article-draft.ts";
import { firstSentence, squash } from "./text.ts";

/**
 * Parses a plain-text article into a draft: one paragraph per line, no title line, no metadata.
 * The title is the first sentence; the date is when the file was first seen (the store's job).
 */
export function parsePlainText(path: string, text: string): Draft {
  const paragraphs = text
    .split(/\r?\n/)
    .map(squash)
    .filter((line) => line !== "");
  const [lead = "", ...more] = paragraphs;
  return {
    path,
    fallbackTitle: (language) => firstSentence(lead, language),
    withoutTitle: (title) => {
      if (!lead.startsWith(title)) return undefined;
      const rest = lead.slice(title.length).trim();
      const left = rest === "" ? more : [rest, ...more];
      const [next] = left;
      return next === undefined ? undefined : { lead: next, contentHtml: toHtml(left) };
    },
    lead,
    plainText: paragraphs.join("\n"),
    contentHtml: toHtml(paragraphs),
    tags: [],
    draft: false,
    pinned: false,
  };
}

function toHtml(paragraphs: readonly string[]): string {
  return paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join("\n");
}
