/**
 * `npm run articles:check`: validates the articles folder without publishing anything.
 * Prints a line per article (slug, language, date, state, title), a line per element the
 * sanitiser removes and a line per problem; exits with 1 when there are problems.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteArticleStore } from "../backends/sqlite/articles.ts";
import { configOrExit } from "../env.ts";
import { readAuthors } from "../source/authors.ts";
import { fileLine, removalMessage, skippedMessage } from "../source/problems.ts";
import { readBatches } from "../source/read-batches.ts";
import { listArticleFiles } from "../source/scan.ts";
import type { ArticleRecord, Skipped } from "../store/store.ts";

async function main(): Promise<number> {
  const config = configOrExit({ checkFolders: false });
  if (!existsSync(config.articlesDir)) {
    console.error(`ARTICLES_DIR does not exist: ${config.articlesDir}`);
    return 2;
  }
  const known = await knownArticles(join(config.dataDir, "herald.sqlite"));
  const { files, refused } = listArticleFiles(config.articlesDir);
  const authors = readAuthors(config.articlesDir);
  const problems: Skipped[] = [...refused, ...authors.problems];
  const warnings: string[] = [];
  const now = new Date();
  const rows: string[][] = [];
  const options = { defaultLanguage: config.siteLanguage, authors: authors.handles };
  const sorted = files.sort((a, b) => a.path.localeCompare(b.path));
  // In batches, as a scan reads them: memory does not grow with the folder.
  for await (const batch of readBatches(sorted, options)) {
    for (const result of batch) {
      if (result.kind === "skipped") {
        problems.push(result.skipped);
        continue;
      }
      const article = result.article;
      for (const removed of article.removed ?? []) {
        warnings.push(`${fileLine(article.path, removed.line)}: ${removalMessage(removed)}`);
      }
      const record = known.get(article.path);
      const date = article.date ?? record?.article.published;
      const state = article.draft
        ? "draft"
        : article.date && article.date > now
          ? "scheduled"
          : record?.state === "published"
            ? "published"
            : "new";
      rows.push([
        record?.article.slug ?? article.slug,
        article.language,
        date ? day(date) : "(when first seen)",
        state,
        article.title,
      ]);
    }
  }
  printTable(rows);
  for (const warning of warnings) console.log(`warning  ${warning}`);
  for (const problem of problems) {
    const published = known.get(problem.path)?.state === "published";
    console.log(
      `problem  ${fileLine(problem.path, problem.line)}: ${skippedMessage(problem, published)}`,
    );
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const warned = warnings.length > 0 ? `, ${plural(warnings.length, "warning")}` : "";
  console.log(`${plural(rows.length, "article")}, ${plural(problems.length, "problem")}${warned}.`);
  return problems.length > 0 ? 1 : 0;
}

/** What the running service has published, by file path, if it has run here before. */
async function knownArticles(dbFile: string): Promise<Map<string, ArticleRecord>> {
  if (!existsSync(dbFile)) return new Map();
  const store = new SqliteArticleStore(new DatabaseSync(dbFile));
  try {
    const records = await store.listAll();
    return new Map(records.filter((r) => r.state !== "deleted").map((r) => [r.article.path, r]));
  } finally {
    await store.close();
  }
}

function day(date: Date): string {
  return date.toISOString().slice(0, 16).replace("T", " ");
}

function printTable(rows: readonly string[][]): void {
  const widths = rows.reduce<number[]>(
    (w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)),
    [],
  );
  for (const row of rows) {
    console.log(
      row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i] ?? 0) : cell)).join("  "),
    );
  }
}

process.exitCode = await main();
