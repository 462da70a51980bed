/**
 * An article's correction notices as HTML, the same on its page, in the feeds and in the
 * fediverse post, so that a correction reads as one wherever the story is read (issue #16).
 * The words follow the article's language; dates are shown in `TIME_ZONE`.
 */
import type { Article } from "./article.ts";
import { escapeHtml } from "./escape.ts";
import { labelsFor } from "./labels.ts";

/** `<aside class="corrections">…</aside>`, or "" for an article without corrections. */
export function correctionNotesHtml(article: Article, timeZone: string): string {
  const corrections = article.corrections ?? [];
  if (corrections.length === 0) return "";
  const labels = labelsFor(article.language);
  // The date as the article's own variant writes it (en-GB: 5 December 2026).
  const day = new Intl.DateTimeFormat([article.language, labels.lang], {
    dateStyle: "long",
    timeZone,
  });
  const notes = corrections.map(({ text, date }) => {
    // Undated: the edit that added it is the article's latest one.
    const when = date ?? article.updated;
    const time = `<time datetime="${when.toISOString()}">${escapeHtml(day.format(when))}</time>`;
    const lead = escapeHtml(labels.correction("\u0000")).replace("\u0000", time);
    return `<p><strong>${lead}</strong> ${escapeHtml(text)}</p>`;
  });
  return `<aside class="corrections" aria-label="${escapeHtml(labels.corrections)}">\n${notes.join("\n")}\n</aside>`;
}
