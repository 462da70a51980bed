import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ParsedArticle } from "../../src/article.ts";
import { parseAuthors, readAuthors } from "../../src/source/authors.ts";
import { parseArticle } from "../../src/source/parse.ts";
import { listArticleFiles } from "../../src/source/scan.ts";

describe("The authors file (issue #18.1)", () => {
  it("maps each name to its handle, and reports a bad line with its number", () => {
    const { handles, problems } = parseAuthors(
      '# who writes here\nJane Doe: "@jane@Example.Social"\nMax: max\nEva Lang: eva@news.example\n',
    );
    expect([...handles]).toEqual([
      ["Jane Doe", "@jane@example.social"],
      ["Eva Lang", "@eva@news.example"],
    ]);
    expect(problems).toEqual([
      {
        path: "authors.yml",
        line: 3,
        reason: '"Max" must be a handle like "@jane@example.social" (got "max")',
      },
    ]);
  });

  it("reports broken YAML and a file that is no list of names, with the line", () => {
    expect(parseAuthors('Jane: "@jane@example.social"\nJane: "@j@x.example"\n').problems).toEqual([
      expect.objectContaining({ path: "authors.yml", line: 2 }),
    ]);
    expect(parseAuthors("\n- Jane\n").problems).toEqual([
      { path: "authors.yml", line: 2, reason: 'it must be lines of `Name: "@user@server"`' },
    ]);
    expect(parseAuthors("").problems).toEqual([]);
  });

  it("gives a story with only `author: Name` its handle; the story's own handle wins", () => {
    const authors = parseAuthors('Jane Doe: "@jane@example.social"').handles;
    const parse = (text: string) =>
      parseArticle("a.md", new TextEncoder().encode(text), { defaultLanguage: "en", authors });
    const named = parse("---\nauthor: Jane Doe\n---\nText.") as ParsedArticle;
    expect(named.authorFediverse).toBe("@jane@example.social");
    const own = parse(
      '---\nauthor: { name: Jane Doe, fediverse: "@jd@other.example" }\n---\nText.',
    ) as ParsedArticle;
    expect(own.authorFediverse).toBe("@jd@other.example");
    const stranger = parse("---\nauthor: Max\n---\nText.") as ParsedArticle;
    expect(stranger).not.toHaveProperty("authorFediverse");
  });

  it("is read from the articles folder and never scanned as an article", () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-authors-"));
    expect(readAuthors(dir)).toEqual({ handles: new Map(), problems: [] });
    writeFileSync(join(dir, "authors.yml"), 'Jane Doe: "@jane@example.social"\n');
    writeFileSync(join(dir, "story.md"), "---\nauthor: Jane Doe\n---\nText.");
    expect(readAuthors(dir).handles.get("Jane Doe")).toBe("@jane@example.social");
    const { files, refused } = listArticleFiles(dir);
    expect(files.map((f) => f.path)).toEqual(["story.md"]);
    expect(refused).toEqual([]);
  });
});
