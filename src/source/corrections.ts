/**
 * Front matter `correction:`, the notices that tell readers a story was corrected (issue #16):
 *
 *     correction: The minister arrived on Tuesday, not Monday.
 *     correction:
 *       - { date: 2026-12-06, text: The minister arrived on Tuesday, not Monday. }
 *       - Corrected the spelling of Ryzhenkov.
 */
import type { Correction } from "../article.ts";
import { parseIsoDate, squash } from "./text.ts";

const MAX_CORRECTIONS = 20;
const MAX_TEXT = 1000;

/** The corrections in a `correction:` value, oldest first; `fail` reports what is wrong. */
export function correctionList(value: unknown, fail: (problem: string) => never): Correction[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  if (items.length > MAX_CORRECTIONS)
    fail(`\`correction\` may hold up to ${MAX_CORRECTIONS} notices`);
  return items.map((item) => toCorrection(item, fail));
}

function toCorrection(item: unknown, fail: (problem: string) => never): Correction {
  const fields =
    typeof item === "object" && item !== null ? (item as Record<string, unknown>) : { text: item };
  const { text, date, ...others } = fields;
  const other = Object.keys(others)[0];
  if (other !== undefined) {
    // A comma in an unquoted text inside `{ … }` splits it: say so, since that is the usual cause.
    fail(
      `a \`correction\` has a date and a text only (got "${other}"; put a text with commas in quotes)`,
    );
  }
  if (typeof text !== "string" || squash(text) === "") {
    fail("`correction` must be a text, or { date, text }, or a list of them");
  }
  if (squash(text).length > MAX_TEXT)
    fail(`a \`correction\` text may be ${MAX_TEXT} characters long`);
  if (date === undefined || date === null) return { text: squash(text) };
  const when = typeof date === "string" ? parseIsoDate(date) : undefined;
  if (when === undefined) {
    fail(`a \`correction\` date must be an ISO 8601 date like 2026-12-06 (got "${String(date)}")`);
  }
  return { text: squash(text), date: when };
}
