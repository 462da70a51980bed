import { randomBytes } from "node:crypto";

/**
 * A new article's id: a UUID of version 7 (RFC 9562, section 5.7), 48 bits of the time in
 * milliseconds, then random bits. Ids made later sort after earlier ones, so a first import
 * of 100,000 stories appends to the indexes keyed by id instead of inserting all over them
 * (issue #17); random ids (version 4) made each insert touch a page of its own. The creation
 * time it carries is no secret: it is about when the story was published.
 */
export function newArticleId(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70; // version 7
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // variant 10
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
