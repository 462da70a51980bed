// The extra-small database: as right as the larger ones on article-length text (checked on
// twelve languages), at a fraction of the memory (about 85 MB less resident than "medium").
import { eld } from "eld/extrasmall";

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

/**
 * Detects the language of `text` (ISO 639-1, e.g. `de`), or `undefined` when the text is
 * too short or too mixed to tell.
 */
export function detectLanguage(text: string): string | undefined {
  // A few words say too little: "Text." would come out Dutch.
  if (text.length < 40) return undefined;
  const result = eld.detect(text.slice(0, 2000));
  return result.language !== "" && result.isReliable() ? result.language : undefined;
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

/** Collapses runs of white space to one space. */
export function squash(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
