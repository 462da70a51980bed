import { randomUUID } from "node:crypto";

/**
 * A new article's id: a UUID of version 7 (RFC 9562, section 5.7), 48 bits of the time in
 * milliseconds, then random bits. Ids made later sort after earlier ones, so a first import
 * of 100,000 stories appends to the indexes keyed by id instead of inserting all over them
 * (issue #17); random ids (version 4) made each insert touch a page of its own. The creation
 * time it carries is no secret: it is about when the story was published.
 */
export function newArticleId(now = Date.now()): string {
  // A version 4 UUID (from Node's pool of random bytes) with the time over its first 48 bits
  // and the version digit made 7; its variant bits are already those of version 7.
  const random = randomUUID();
  const time = now.toString(16).padStart(12, "0");
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}
