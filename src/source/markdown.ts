import MarkdownIt, { type Token } from "markdown-it";
import { isMap, isNode, isScalar, LineCounter, parse, parseDocument, YAMLError } from "yaml";
import type { ArticleImage, RemovedElement } from "../article.ts";
import type { Skipped } from "../store/store.ts";
import type { Draft } from "./article-draft.ts";
import { parseAuthor } from "./author.ts";
import { correctionList } from "./corrections.ts";
import { figures } from "./figures.ts";
import { imageSource, localImagesServed } from "./image-paths.ts";
import { sanitizeArticleHtml } from "./sanitize.ts";
import { firstSentence, parseIsoDate, squash } from "./text.ts";

const markdown = new MarkdownIt({ html: true, linkify: true, typographer: false }).use(figures);

// A YAML block between `---` lines at the very top (Jekyll/Hugo style). The YAML itself is
// parsed by `yaml`, which tells us the line of every error and every key.
const frontMatterPattern = /^---[ \t]*\r?\n([\s\S]*?)(?:^|\r?\n)(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/;

/** Thrown while reading front matter; becomes a `Skipped` naming the line. */
class FrontMatterError extends Error {
  readonly line: number | undefined;
  constructor(message: string, line?: number) {
    super(message);
    this.line = line;
  }
}

/** The keys a Markdown file's front matter sets (none when it has none or it does not parse). */
export function frontMatterKeys(text: string): ReadonlySet<string> {
  try {
    const { fields } = splitFrontMatter(text.replace(/^\uFEFF/, ""));
    return new Set(fields.keys());
  } catch {
    return new Set();
  }
}

/** Parses a Markdown file with optional YAML front matter into a draft. */
export function parseMarkdown(path: string, text: string): Draft | Skipped {
  try {
    const { fields, body, bodyLine } = splitFrontMatter(text);
    return toDraft(path, fields, body, bodyLine);
  } catch (error) {
    if (!(error instanceof FrontMatterError)) throw error;
    const skipped: Skipped = { path, reason: error.message, line: error.line };
    return skipped;
  }
}

interface FrontMatter {
  readonly get: (key: string) => unknown;
  readonly keys: () => string[];
  readonly lineOf: (key: string) => number;
}

function splitFrontMatter(text: string) {
  const match = frontMatterPattern.exec(text);
  if (!match) {
    if (/^---[ \t]*\r?\n/.test(text)) {
      throw new FrontMatterError("front matter is not closed: add a line `---` after it", 1);
    }
    return { fields: noFrontMatter, body: text, bodyLine: 1 };
  }
  const yaml = match[1] ?? "";
  let data: unknown;
  try {
    data = parse(yaml, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    // YAMLError for bad syntax; a ReferenceError for an alias bomb ("billion laughs").
    const line = error instanceof YAMLError ? yamlErrorLine(yaml, error) : undefined;
    const message = error instanceof Error ? error.message : String(error);
    throw new FrontMatterError(`front matter is not valid YAML: ${firstLine(message)}`, line);
  }
  if (data !== null && data !== undefined && (typeof data !== "object" || Array.isArray(data))) {
    throw new FrontMatterError("front matter must be a list of `key: value` lines", 2);
  }
  const map = (data ?? {}) as Record<string, unknown>;
  const fields: FrontMatter = {
    get: (key) => (Object.hasOwn(map, key) ? map[key] : undefined),
    keys: () => Object.keys(map),
    // Only needed to report a bad value, so the YAML is parsed again, with positions, then.
    lineOf: (key) => lineOfKey(yaml, key),
  };
  const bodyLine = text.slice(0, match[0].length).split("\n").length;
  return { fields, body: text.slice(match[0].length), bodyLine };
}

function lineOfKey(yaml: string, key: string): number {
  const lineCounter = new LineCounter();
  const contents = parseDocument(yaml, { lineCounter }).contents;
  const pair = isMap(contents)
    ? contents.items.find((item) => isScalar(item.key) && String(item.key.value) === key)
    : undefined;
  const offset = isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
  return offset === undefined ? 2 : lineCounter.linePos(offset).line + 1; // +1: the `---` line
}

/**
 * The file's line of a YAML error. `yaml` places an unclosed quote or list where it noticed
 * it, on the line after; the author wrote it where the value starts, so a value that runs up
 * to the error is blamed instead.
 */
function yamlErrorLine(yaml: string, error: YAMLError): number {
  const lineCounter = new LineCounter();
  const contents = parseDocument(yaml, { lineCounter, uniqueKeys: true }).contents;
  const at = error.pos[0];
  const values = isMap(contents) ? contents.items.map((pair) => pair.value) : [];
  const runaway = values.find(
    (value) => isNode(value) && value.range && value.range[0] < at && at <= value.range[1],
  );
  const start = isNode(runaway) ? runaway.range?.[0] : undefined;
  return lineCounter.linePos(start ?? at).line + 1; // +1: the `---` line
}

const noFrontMatter: FrontMatter = { get: () => undefined, keys: () => [], lineOf: () => 1 };

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}

function toDraft(path: string, fields: FrontMatter, body: string, bodyLine: number): Draft {
  const tokens = markdown.parse(body, {});
  const title = optionalString(fields, "title");
  // Without a front-matter title, a leading `# Heading` is the title (and not repeated in the body).
  const headingTitle = title === undefined ? leadingHeading(tokens) : undefined;
  const bodyTokens = headingTitle === undefined ? tokens : tokens.slice(3);
  const lead = leadParagraph(bodyTokens);
  const plainText = leadingText(bodyTokens, 2000);
  const rendered = markdown.renderer.render(bodyTokens, markdown.options, {});
  // markdown-it escapes all text and refuses javascript: links; only raw HTML written into
  // the Markdown can carry anything dangerous, so only then is the (slower) sanitiser needed.
  const raw = rawHtml(bodyTokens, bodyLine);
  const contentHtml = localImagesServed(
    raw.length > 0 ? sanitizeArticleHtml(rendered).html : rendered,
    path,
  );
  if (plainText === "" && (title ?? headingTitle) === undefined) {
    throw new FrontMatterError("the article has no text", bodyLine);
  }
  return {
    path,
    title: title ?? headingTitle,
    fallbackTitle: (language) => firstSentence(lead || plainText.split("\n")[0] || "", language),
    summary: optionalString(fields, "summary"),
    lead,
    plainText,
    contentHtml,
    language: optionalLanguage(fields),
    tags: tagList(fields),
    image: image(fields, path),
    ...authorOf(fields),
    date: optionalDate(fields, "date"),
    updated: optionalDate(fields, "updated"),
    draft: optionalBoolean(fields, "draft") ?? false,
    pinned: optionalBoolean(fields, "pinned") ?? false,
    corrections: correctionList(fields.get("correction"), (problem) => {
      throw new FrontMatterError(problem, fields.lineOf("correction"));
    }),
    slug: optionalSlug(fields),
    removed: raw.flatMap(removedFrom),
  };
}

function leadingHeading(tokens: readonly Token[]): string | undefined {
  const [open, inline] = tokens;
  if (open?.type !== "heading_open" || open.tag !== "h1" || !inline) return undefined;
  return squash(inlineText(inline));
}

/** The plain text of the first paragraph proper (not a heading or list). */
function leadParagraph(tokens: readonly Token[]): string {
  const at = tokens.findIndex(
    (t, i) => t.type === "inline" && tokens[i - 1]?.type === "paragraph_open",
  );
  const token = tokens[at];
  return token ? squash(inlineText(token)) : "";
}

/** The plain text of the paragraphs, headings and list items, one a line, up to `max` characters. */
function leadingText(tokens: readonly Token[], max: number): string {
  const lines: string[] = [];
  let length = 0;
  for (const token of tokens) {
    if (token.type !== "inline" || length >= max) continue;
    const text = squash(inlineText(token));
    if (text === "") continue;
    lines.push(text);
    length += text.length + 1;
  }
  return lines.join("\n");
}

/**
 * What the sanitiser removes from one piece of raw HTML, each on its line: the sanitiser
 * reports elements in the order written, so each is the next `<tag` from the one before.
 */
function removedFrom({ html, line }: { html: string; line: number }): RemovedElement[] {
  const lower = html.toLowerCase();
  let from = 0;
  return sanitizeArticleHtml(html).removed.map((removed) => {
    const tag = removed.element.split(/[\s>]/, 1)[0] ?? "<";
    const at = lower.indexOf(tag, from);
    if (at !== -1) from = at + 1;
    const before = html.slice(0, at === -1 ? from : at);
    return { ...removed, line: line + (before.match(/\n/g)?.length ?? 0) };
  });
}

/**
 * The raw HTML written into the Markdown, each piece with the line of the file it starts on
 * (`bodyLine` is the file's line of the body's first line), so that what the sanitiser
 * removes can be reported where the author wrote it. Block tokens carry their lines
 * (`map`); an inline piece is on its block's first line plus the line breaks before it.
 */
function rawHtml(tokens: readonly Token[], bodyLine: number): { html: string; line: number }[] {
  const pieces: { html: string; line: number }[] = [];
  let blockLine = 0;
  for (const token of tokens) {
    blockLine = token.map?.[0] ?? blockLine;
    if (token.type === "html_block")
      pieces.push({ html: token.content, line: bodyLine + blockLine });
    let breaks = 0;
    for (const child of token.children ?? []) {
      if (child.type === "html_inline") {
        pieces.push({ html: child.content, line: bodyLine + blockLine + breaks });
      }
      if (child.type === "softbreak" || child.type === "hardbreak") breaks++;
      else breaks += child.content.split("\n").length - 1;
    }
  }
  return pieces;
}

function inlineText(token: Token): string {
  return (token.children ?? [])
    .map((child) => {
      if (child.type === "text" || child.type === "code_inline") return child.content;
      if (child.type === "softbreak" || child.type === "hardbreak") return " ";
      return "";
    })
    .join("");
}

/** The longest value each text field may have: no headline or byline is longer. */
const maxLength: Readonly<Record<string, number>> = {
  title: 300,
  summary: 1000,
  author: 200,
  slug: 100,
  image_alt: 1000,
  image_caption: 1000,
  image_credit: 1000,
};

function authorOf(fields: FrontMatter): { author?: string; authorFediverse?: string } {
  const author = parseAuthor(fields.get("author"));
  if (typeof author === "string") throw new FrontMatterError(author, fields.lineOf("author"));
  return {
    ...(author.name === undefined ? {} : { author: author.name }),
    ...(author.fediverse === undefined ? {} : { authorFediverse: author.fediverse }),
  };
}

function optionalString(fields: FrontMatter, key: string): string | undefined {
  const value = fields.get(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" && typeof value !== "number") {
    throw new FrontMatterError(`\`${key}\` must be text`, fields.lineOf(key));
  }
  const text = squash(String(value));
  const max = maxLength[key] ?? 200;
  if (text.length > max) {
    throw new FrontMatterError(
      `\`${key}\` is ${text.length} characters long; at most ${max}`,
      fields.lineOf(key),
    );
  }
  return text === "" ? undefined : text;
}

function optionalBoolean(fields: FrontMatter, key: string): boolean | undefined {
  const value = fields.get(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  throw new FrontMatterError(`\`${key}\` must be true or false`, fields.lineOf(key));
}

function optionalDate(fields: FrontMatter, key: string): Date | undefined {
  const value = optionalString(fields, key);
  if (value === undefined) return undefined;
  const date = parseIsoDate(value);
  if (date !== undefined) return date;
  throw new FrontMatterError(
    `\`${key}\` must be an ISO 8601 date like 2026-11-28 or 2026-11-28T09:30:00+01:00 (got "${value}")`,
    fields.lineOf(key),
  );
}

function optionalLanguage(fields: FrontMatter): string | undefined {
  const value = optionalString(fields, "language") ?? optionalString(fields, "lang");
  if (value === undefined) return undefined;
  try {
    const [canonical] = Intl.getCanonicalLocales(value);
    if (canonical) return canonical;
  } catch {
    // reported below
  }
  const key = fields.get("language") === undefined ? "lang" : "language";
  throw new FrontMatterError(
    `\`${key}\` must be a BCP 47 language tag like de or en-GB (got "${value}")`,
    fields.lineOf(key),
  );
}

function tagList(fields: FrontMatter): string[] {
  const value = fields.get("tags");
  if (value === undefined || value === null) return [];
  const items = typeof value === "string" ? value.split(",") : value;
  if (
    !Array.isArray(items) &&
    !(typeof items === "object" && items !== null && "toJSON" in items)
  ) {
    throw new FrontMatterError(
      "`tags` must be a list, like [politics, europe]",
      fields.lineOf("tags"),
    );
  }
  const list = Array.isArray(items) ? items : (items as { toJSON(): unknown }).toJSON();
  if (!Array.isArray(list) || !list.every((t) => typeof t === "string" || typeof t === "number")) {
    throw new FrontMatterError("`tags` must be a list of words", fields.lineOf("tags"));
  }
  const tags = list.map((t) => squash(String(t)).replace(/^#/, "")).filter((t) => t !== "");
  if (tags.length > 30 || tags.some((t) => t.length > 50)) {
    throw new FrontMatterError(
      "`tags` may hold up to 30 tags of up to 50 characters",
      fields.lineOf("tags"),
    );
  }
  return [...new Set(tags)];
}

const slugPattern = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;

function optionalSlug(fields: FrontMatter): string | undefined {
  const value = optionalString(fields, "slug");
  if (value === undefined) return undefined;
  if (slugPattern.test(value)) return value;
  throw new FrontMatterError(
    `\`slug\` may hold only lower-case letters, digits and dashes (got "${value}")`,
    fields.lineOf("slug"),
  );
}

function image(fields: FrontMatter, articlePath: string): ArticleImage | undefined {
  const value = fields.get("image");
  if (value === undefined || value === null) return undefined;
  const line = fields.lineOf("image");
  const raw = (typeof value === "object" ? value : {}) as Record<string, unknown>;
  const text = (key: "alt" | "caption" | "credit") => {
    const given = typeof value === "string" ? optionalString(fields, `image_${key}`) : raw[key];
    if (given !== undefined && given !== null && typeof given !== "string") {
      throw new FrontMatterError(
        "`image` must be a path or URL, or { src, alt, caption, credit }",
        line,
      );
    }
    const squashed = squash(given ?? "");
    if (squashed.length > 1000) {
      throw new FrontMatterError(
        `\`image\` ${key} is ${squashed.length} characters long; at most 1000`,
        line,
      );
    }
    return squashed === "" ? {} : { [key]: squashed };
  };
  const src = typeof value === "string" ? value : raw.src;
  if (typeof src !== "string" || src.trim() === "") {
    throw new FrontMatterError(
      "`image` must be a path or URL, or { src, alt, caption, credit }",
      line,
    );
  }
  return {
    src: resolvedSource(src.trim(), articlePath, line),
    ...text("alt"),
    ...text("caption"),
    ...text("credit"),
  };
}

function resolvedSource(src: string, articlePath: string, line: number): string {
  const resolved = imageSource(src, articlePath);
  if (typeof resolved === "string") return resolved;
  throw new FrontMatterError(resolved.error, line);
}
