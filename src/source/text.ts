/** Shortens plain text to at most about `max` characters, at a word boundary, with "…". */
export function cutAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max + 1);
  const space = cut.search(/\s\S*$/);
  const head = (space > max * 0.6 ? cut.slice(0, space) : cut.slice(0, max)).replace(
    /[\s,;:–—-]+$/u,
    "",
  );
  return `${head}…`;
}

/** The first sentence of `text`, by the language's sentence rules. */
export function firstSentence(text: string, language: string): string {
  const segmenter = new Intl.Segmenter(language, { granularity: "sentence" });
  for (const { segment } of segmenter.segment(text)) return segment.trim();
  return text.trim();
}

/** A URL-safe slug: lower case ASCII letters, digits and dashes. */
export function slugify(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/ß/g, "ss")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80);
}

/** White space other than a single space: what `squash()` has to replace. */
const squashable = /[^\S ]| {2}/;

/**
 * Collapses runs of white space to one space. Most texts it gets (a paragraph's text) have
 * nothing to collapse: testing first took 40% of the time of always replacing (paragraphs of
 * 430 characters).
 */
export function squash(text: string): string {
  return (squashable.test(text) ? text.replace(/\s+/g, " ") : text).trim();
}

const isoDate =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An ISO 8601 date (`2026-11-28`) or time (`2026-11-28T09:30:00+01:00`), or `undefined`.
 * A date or time without an offset is read as UTC, whatever the server's time zone.
 */
export function parseIsoDate(value: string): Date | undefined {
  if (!isoDate.test(value)) return undefined;
  const hasOffset = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(value) && value.length > 10;
  const date = new Date(hasOffset ? value : value.length === 10 ? value : `${value}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
