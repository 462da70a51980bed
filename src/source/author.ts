/**
 * The `author` front matter (issue #18.1): a name (`author: Jane Doe`), or a name and the
 * author's own fediverse account, so the page names it as the story's creator
 * (`fediverse:creator`, Mastodon's "More from …" under shared links):
 *
 * ```yaml
 * author: { name: Jane Doe, fediverse: "@jane@example.social" }
 * ```
 */
import { squash } from "./text.ts";

export interface Author {
  readonly name?: string;
  /** `@jane@example.social`, always with the leading `@`. */
  readonly fediverse?: string;
}

const MAX_NAME = 200;
const HANDLE = /^@?([a-z0-9_][a-z0-9_.-]{0,63})@([a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d{1,5})?)$/i;
const SHAPE = '`author` must be a name, or { name, fediverse: "@user@server" }';

/** The author as written, or a sentence saying what is wrong (for the file's line). */
export function parseAuthor(value: unknown): Author | string {
  if (value === undefined || value === null) return {};
  if (typeof value === "string" || typeof value === "number") return named(String(value));
  if (typeof value !== "object" || Array.isArray(value)) return SHAPE;
  const { name, fediverse, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `${SHAPE} (got ${Object.keys(rest).join(", ")})`;
  if (name !== undefined && typeof name !== "string") return SHAPE;
  if (fediverse !== undefined && typeof fediverse !== "string") return SHAPE;
  const author = named(name ?? "");
  if (typeof author === "string" || fediverse === undefined) return author;
  const handle = HANDLE.exec(fediverse.trim());
  if (handle === null) {
    return `\`author\` fediverse must be a handle like "@jane@example.social" (got "${fediverse}")`;
  }
  return { ...author, fediverse: `@${handle[1]}@${handle[2]?.toLowerCase()}` };
}

function named(text: string): Author | string {
  const name = squash(text);
  if (name.length > MAX_NAME) {
    return `\`author\` is ${name.length} characters long; at most ${MAX_NAME}`;
  }
  return name === "" ? {} : { name };
}
