/**
 * `npm run preview -- articles/x.md`: what a feed reader, Mastodon (as an Article and as a
 * Note) and a link card will show of one article file, before it is published, with warnings
 * about what readers will miss. Reads the file only; publishes and stores nothing.
 */
import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { Article, ParsedArticle } from "../article.ts";
import type { SectionConfig } from "../config-sections.ts";
import { correctionNotesHtml } from "../correction-notes.ts";
import { configOrExit } from "../env.ts";
import {
  htmlToText,
  type ObjectContext,
  type PostType,
  toArticleObject,
  toNote,
} from "../federation/objects.ts";
import { articleLinks } from "../links.ts";
import { AUTHORS_FILE, readAuthors } from "../source/authors.ts";
import { detectLanguage } from "../source/language.ts";
import { frontMatterKeys } from "../source/markdown.ts";
import { isParsed, parseArticle } from "../source/parse.ts";
import { fileLine, removalMessage } from "../source/problems.ts";
import { cutAtWord } from "../source/text.ts";
import { absolute, paths } from "../urls.ts";
import { sectionPreviewLines } from "./preview-sections.ts";

export interface PreviewOptions {
  readonly origin: URL;
  readonly siteLanguage: string;
  /** `TIME_ZONE`: the dates of correction notices; default UTC. */
  readonly timeZone?: string;
  readonly now?: Date;
  /** `SECTIONS`: the section accounts that boost the story are listed. */
  readonly sections?: readonly SectionConfig[];
}

/** The preview of a parsed article as lines of text; `source` is the file's text. */
export function renderPreview(
  parsed: ParsedArticle,
  source: string,
  options: PreviewOptions,
): string {
  const now = options.now ?? new Date();
  const article: Article = {
    ...parsed,
    id: "(given at first publication)",
    published: parsed.date ?? now,
    updated: parsed.updated ?? parsed.date ?? now,
  };
  const links = articleLinks(article, options.origin);
  const text = htmlToText(article.contentHtml);
  const words = text === "" ? 0 : text.split(" ").length;
  const given = isMarkdown(parsed.path) ? frontMatterKeys(source) : new Set<string>();
  const date = parsed.date
    ? `${parsed.date.toISOString()}${parsed.date > now ? " (in the future: published then)" : ""}`
    : "when the service first sees the file";
  // What Mastodon shows is read off the very objects Herald sends, as Mastodon reads them.
  const timeZone = options.timeZone ?? "UTC";
  const asArticle = toArticleObject(article, previewContext(options.origin, "article", timeZone));
  const asNote = toNote(article, previewContext(options.origin, "note", timeZone));
  const notes = htmlToText(correctionNotesHtml(article, timeZone));
  const note = htmlToText(asNote.content?.toString() ?? "");
  const lines = [
    `Preview of ${parsed.path}${parsed.draft ? " (a draft: never published)" : ""}`,
    "",
    "Feed readers (RSS, Atom, JSON Feed)",
    `  title     ${article.title}`,
    `  date      ${date}`,
    `  summary   ${article.summary}`,
    `  text      ${words} words, in full: ${cutAtWord(text, 120)}`,
    `  language  ${article.language}`,
    `  author    ${article.author ?? "(none: the feeds name SITE_AUTHOR)"}`,
    `  byline    ${bylineOf(article)}`,
    `  tags      ${article.tags.length > 0 ? article.tags.join(", ") : "(none)"}`,
    `  corrections ${notes === "" ? "(none)" : `${(article.corrections ?? []).length}, after the text (also on the page and in the fediverse post): ${notes}`}`,
    `  image     ${links.image?.href ?? "(none)"}`,
    `  link      ${links.url.href}`,
    "",
    "Mastodon, POST_TYPE=article (the default)",
    `  a card with the title "${asArticle.name?.toString() ?? ""}",`,
    `  the summary "${cutAtWord(htmlToText(asArticle.summary?.toString() ?? ""), 200)}"`,
    `  and a link to ${links.url.href}; the text itself is not shown.`,
    ...(article.authorFediverse === undefined
      ? []
      : [`  It mentions ${article.authorFediverse}, whose inbox gets it too (a notification).`]),
    "",
    "Mastodon, POST_TYPE=note",
    `  the full text as a post: ${note.length} characters (the title in bold, the text, the link):`,
    `  ${cutAtWord(note, 200)}`,
    ...sectionPreviewLines(article.tags, options.sections ?? [], options.origin),
    "",
    "Link card (Open Graph, when someone shares the link)",
    `  og:title        ${article.title}`,
    `  og:description  ${article.summary}`,
    `  og:image        ${links.image?.href ?? "(none: a card without a picture)"}`,
    `  byline          ${byline(article)}`,
  ];
  const warnings = previewWarnings(parsed, text, given, options.siteLanguage);
  lines.push("", warnings.length === 0 ? "No warnings." : "Warnings");
  for (const warning of warnings) lines.push(`  ! ${warning}`);
  return lines.join("\n");
}

/** The story's byline: its author's name and fediverse account, where they are given. */
function bylineOf(article: Article): string {
  const name = article.author ?? "(no author)";
  return article.authorFediverse === undefined
    ? `${name}, no fediverse account (give one in front matter or ${AUTHORS_FILE})`
    : `${name} ${article.authorFediverse}`;
}

/** Who Mastodon 4.3+ names under the card ("More from …"): `fediverse:creator`. */
function byline(article: Article): string {
  return article.authorFediverse === undefined
    ? "the site's account"
    : `${article.authorFediverse} (once their account lists this site's host under author attribution), else the site's account`;
}

/** The preview shows no ids: the account's are enough to build the objects. */
function previewContext(origin: URL, postType: PostType, timeZone: string): ObjectContext {
  const actorId = absolute(origin, paths.home);
  return { origin, actorId, followersId: actorId, postType, timeZone };
}

function previewWarnings(
  parsed: ParsedArticle,
  text: string,
  given: ReadonlySet<string>,
  siteLanguage: string,
): string[] {
  const warnings = (parsed.removed ?? []).map(
    (removed) => `${fileLine(parsed.path, removed.line)}: ${removalMessage(removed)}`,
  );
  if (text === "" || parsed.summary.trim() === "" || parsed.summary === parsed.title) {
    warnings.push(
      "empty summary: Mastodon (POST_TYPE=article) shows only the title and a bare link; write a `summary:` or a lead paragraph",
    );
  } else if (isMarkdown(parsed.path) && !given.has("summary")) {
    warnings.push(
      "no `summary:` in front matter: the lead paragraph is used, cut near 300 characters",
    );
  }
  if (!given.has("language")) {
    const detected = detectLanguage(text);
    const fix = isMarkdown(parsed.path)
      ? "set `language:`"
      : "write it as Markdown with `language:`";
    if (detected === undefined) {
      warnings.push(
        `no language given and too little text to tell: the site's language (${siteLanguage}) is assumed; ${fix}`,
      );
    } else if (isMarkdown(parsed.path)) {
      warnings.push(`no \`language:\`: detected \`${detected}\`; ${fix} if that is wrong`);
    }
  }
  const images = parsed.contentHtml.match(/<img\b[^>]*>/gi) ?? [];
  if (images.length > 0) {
    const withoutAlt = images.filter((tag) => !/\salt="[^"]*\S[^"]*"/.test(tag)).length;
    warnings.push(
      `${images.length} inline image${images.length === 1 ? "" : "s"} in the text: Mastodon strips <img> from posts and shows them as attachments below it instead` +
        (withoutAlt > 0
          ? `; ${withoutAlt} without alt text, which screen readers cannot describe`
          : ""),
    );
  }
  return warnings;
}

function isMarkdown(path: string): boolean {
  return path.toLowerCase().endsWith(".md");
}

function main(): number {
  const file = process.argv[2];
  if (file === undefined) {
    console.error("Usage: npm run preview -- articles/some-story.md");
    return 2;
  }
  const config = configOrExit({ checkFolders: false });
  const absolutePath = resolve(file);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(absolutePath);
  } catch (error) {
    console.error(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    return 2;
  }
  const inFolder = relative(config.articlesDir, absolutePath);
  const path = inFolder.startsWith("..") ? file : inFolder.split("\\").join("/");
  const authors = readAuthors(config.articlesDir);
  for (const problem of authors.problems) {
    console.log(`problem  ${fileLine(problem.path, problem.line)}: ${problem.reason}`);
  }
  const result = parseArticle(path, bytes, {
    defaultLanguage: config.siteLanguage,
    authors: authors.handles,
  });
  if (!isParsed(result)) {
    console.log(`problem  ${fileLine(path, result.line)}: ${result.reason}`);
    return 1;
  }
  const source = new TextDecoder().decode(bytes);
  console.log(
    renderPreview(result, source, {
      origin: config.publicUrl,
      siteLanguage: config.siteLanguage,
      timeZone: config.timeZone,
      sections: config.sections,
    }),
  );
  return 0;
}

if (import.meta.main) process.exitCode = main();
