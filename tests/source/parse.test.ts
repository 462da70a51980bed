import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ParsedArticle } from "../../src/article.ts";
import { isParsed, parseArticle } from "../../src/source/parse.ts";
import type { Skipped } from "../../src/store/store.ts";
import { seedPath } from "../helpers/articles.ts";

const options = { defaultLanguage: "en" };
const utf8 = (text: string) => new TextEncoder().encode(text);

function parsed(path: string, text: string | Uint8Array): ParsedArticle {
  const result = parseArticle(path, typeof text === "string" ? utf8(text) : text, options);
  if (!isParsed(result)) throw new Error(`expected an article, got: ${result.reason}`);
  return result;
}

function skipped(path: string, text: string | Uint8Array): Skipped {
  const result = parseArticle(path, typeof text === "string" ? utf8(text) : text, options);
  if (isParsed(result)) throw new Error(`expected a skip, got article "${result.title}"`);
  return result;
}

describe("parseArticle() on the seed story", () => {
  const text = readFileSync(seedPath, "utf8");
  const lines = text.split("\n");
  const article = parsed("belarus-nordkorea.txt", readFileSync(seedPath));

  it("has ten paragraphs and no title line", () => {
    expect(lines).toHaveLength(10);
  });

  it("takes the first sentence as the title", () => {
    expect(article.title).toBe(
      "Wie die beiden Länder am Montag mitteilten, wird der Außenminister von Weißrussland diese Woche Nordkorea besuchen.",
    );
  });

  it("detects German", () => {
    expect(article.language).toBe("de");
  });

  it("keeps all ten paragraphs, in order, with umlauts, ß and „…“ intact, the title not again", () => {
    const paragraphs = [...article.contentHtml.matchAll(/<p>(.*?)<\/p>/g)].map((m) => m[1]);
    const [lead = "", ...rest] = lines.map((line) => line.trim());
    expect(paragraphs).toEqual([lead.slice(article.title.length).trim(), ...rest]);
    expect(article.contentHtml).not.toContain(article.title);
    expect(article.contentHtml).toContain("„Dreieckskooperation“");
    expect(article.contentHtml).toContain("Weißrussland");
    expect(article.contentHtml).not.toContain("&amp;");
  });

  it("summarises with the lead paragraph after the title, cut at a word boundary near 300 characters", () => {
    const lead = (lines[0] ?? "").slice(article.title.length).trim();
    expect(lead.startsWith("Im Mittelpunkt der Reise")).toBe(true);
    expect(lead.length).toBeGreaterThan(100);
    expect(article.summary.startsWith(lead.slice(0, 100))).toBe(true);
    expect(article.summary).not.toContain(article.title);
  });

  it("takes its slug from the file name, and no date (the store dates it when first seen)", () => {
    expect(article.slug).toBe("belarus-nordkorea");
    expect(article.explicitSlug).toBe(false);
    expect(article.date).toBeUndefined();
    expect(article.draft).toBe(false);
  });
});

describe("parseArticle() on plain text", () => {
  it("starts the summary with the next paragraph when the first is only the title", () => {
    const article = parsed(
      "a.txt",
      "A headline of its own.\nThe story begins here, in a second line.\n",
    );
    expect(article.title).toBe("A headline of its own.");
    expect(article.summary).toBe("The story begins here, in a second line.");
    expect(article.contentHtml).toBe("<p>The story begins here, in a second line.</p>");
  });

  it("keeps a one-sentence article's only sentence as its body", () => {
    const article = parsed("a.txt", "Only this one sentence is the whole article.\n");
    expect(article.contentHtml).toBe("<p>Only this one sentence is the whole article.</p>");
  });

  it("keeps a first sentence in the body when the title had to shorten it", () => {
    const long = `${"A very long first sentence ".repeat(8)}ends here. Then more.`;
    const article = parsed("a.txt", long);
    expect(article.title.endsWith("…")).toBe(true);
    expect(article.contentHtml).toBe(`<p>${long}</p>`);
  });
});

describe("parseArticle() on Markdown", () => {
  it("reads every front matter field", () => {
    const article = parsed(
      "news/2026/budget.md",
      `---
title: "Budget: Tom & Jerry <3 „Zitat“"
date: 2026-03-01T09:30:00+01:00
updated: 2026-03-02
summary: The short version.
tags: [politics, "Europe"]
language: en-GB
draft: false
image: { src: photo.jpg, alt: A photo }
slug: budget-2026
author: Ada Lovelace
pinned: true
---
Body text with **bold**.
`,
    );
    expect(article).toMatchObject({
      title: "Budget: Tom & Jerry <3 „Zitat“",
      summary: "The short version.",
      tags: ["politics", "Europe"],
      language: "en-GB",
      draft: false,
      pinned: true,
      slug: "budget-2026",
      explicitSlug: true,
      author: "Ada Lovelace",
      image: { src: "news/2026/photo.jpg", alt: "A photo" },
    });
    expect(article.date?.toISOString()).toBe("2026-03-01T08:30:00.000Z");
    expect(article.updated?.toISOString()).toBe("2026-03-02T00:00:00.000Z");
    expect(article.contentHtml).toBe("<p>Body text with <strong>bold</strong>.</p>\n");
  });

  it("reads a date without an offset as UTC", () => {
    expect(parsed("a.md", "---\ndate: 2026-03-01T09:30\n---\nText.").date?.toISOString()).toBe(
      "2026-03-01T09:30:00.000Z",
    );
  });

  it("takes a leading # heading as the title and leaves it out of the body", () => {
    const article = parsed("a.md", "# The Headline\n\nFirst paragraph.\n\nSecond.");
    expect(article.title).toBe("The Headline");
    expect(article.contentHtml).not.toContain("<h1>");
    expect(article.summary).toBe("First paragraph.");
  });

  it("without a title or heading, takes the first sentence", () => {
    const article = parsed("a.md", "Rain is expected tomorrow. Bring an umbrella.");
    expect(article.title).toBe("Rain is expected tomorrow.");
  });

  it("uses the lead paragraph, not a heading, as the summary", () => {
    const article = parsed("a.md", "---\ntitle: T\n---\n## Section\n\nThe lead.\n");
    expect(article.summary).toBe("The lead.");
  });

  it("removes scripts, iframes, styles, event handlers and javascript: links", () => {
    const article = parsed(
      "a.md",
      `---
title: Safe
---
Hello <script>alert(1)</script> <iframe src="https://evil.test"></iframe>
<style>body{display:none}</style>
<img src="https://img.test/a.png" onerror="alert(2)" alt="a">
<a href="javascript:alert(3)">x</a> <a href="https://ok.test/" onclick="alert(4)">ok</a>
[link](javascript:alert(5))
`,
    );
    const html = article.contentHtml;
    for (const bad of ["<script", "<iframe", "<style", "onerror", "onclick", 'href="javascript:']) {
      expect(html).not.toContain(bad);
    }
    expect(html).toContain('<img src="https://img.test/a.png" alt="a" />');
    expect(html).toContain('<a href="https://ok.test/">ok</a>');
  });

  it("reports each removed element with the line of the file it was on (issue #15.4)", () => {
    const article = parsed(
      "a.md",
      `---
title: Embeds
---
Before the video.

<iframe src="https://video.test/embed/42"></iframe>

Hello <script>alert(1)</script> world,
and <script src="https://evil.test/x.js"></script> more.
`,
    );
    expect(article.removed).toEqual([
      { element: '<iframe src="https://video.test/embed/42">', linked: true, line: 6 },
      { element: "<script>", linked: false, line: 8 },
      { element: '<script src="https://evil.test/x.js">', linked: false, line: 9 },
    ]);
  });

  it("leaves a link to a removed embed's source, and no double spaces", () => {
    const article = parsed(
      "a.md",
      'Watch <iframe src="https://video.test/embed/42"></iframe> now.\n\nHello <script>alert(1)</script> world.\n\n```\na  b\n```\n',
    );
    expect(article.contentHtml).toContain(
      '<p>Watch <a href="https://video.test/embed/42">https://video.test/embed/42</a> now.</p>',
    );
    expect(article.contentHtml).toContain("<p>Hello world.</p>");
    expect(article.contentHtml).toContain("a  b"); // code keeps its spaces
  });

  it("links a video's <source src>, and keeps a picture's <source srcset>", () => {
    const article = parsed(
      "a.md",
      '# Media\n\n<video controls>\n<source src="https://video.test/a.mp4" type="video/mp4">\n</video>\n\n<picture><source srcset="https://img.test/a.avif" type="image/avif"><img src="https://img.test/a.jpg" alt="A"></picture>\n',
    );
    expect(article.contentHtml).toContain(
      '<a href="https://video.test/a.mp4">https://video.test/a.mp4</a>',
    );
    expect(article.contentHtml).toContain('<source srcset="https://img.test/a.avif"');
    expect(article.removed).toEqual([
      { element: "<video>", linked: false, line: 3 },
      { element: '<source src="https://video.test/a.mp4">', linked: true, line: 4 },
    ]);
  });

  it("names the line of each element inside a block of HTML", () => {
    const article = parsed(
      "a.md",
      "# Widgets\n\n<div>\n<script>one()</script>\n<p>Text</p>\n<script>two()</script>\n</div>\n",
    );
    expect(article.removed?.map((removed) => removed.line)).toEqual([4, 6]);
  });

  it("reports nothing removed when nothing was", () => {
    expect(parsed("a.md", "Text with <em>emphasis</em>.").removed).toEqual([]);
  });

  it("refuses javascript: links written in Markdown syntax, without raw HTML", () => {
    const article = parsed(
      "a.md",
      "[x](javascript:alert(1)) ![y](javascript:alert(2)) <javascript:alert(3)>",
    );
    expect(article.contentHtml).not.toMatch(/(href|src)="javascript:/);
  });

  it("points inline images beside the article at /media, and drops one outside the folder", () => {
    const article = parsed(
      "2026/story.md",
      '# T\n\nText.\n\n![Cat](img/cat.jpg) ![Root](/top.png) ![Out](../../secret.png) ![Web](https://cdn.test/a.png)\n\n<img src="raw.webp" alt="raw">',
    );
    expect(article.contentHtml).toContain('<img src="/media/2026/img/cat.jpg" alt="Cat"');
    expect(article.contentHtml).toContain('<img src="/media/top.png" alt="Root"');
    expect(article.contentHtml).toContain('<img src="" alt="Out"');
    expect(article.contentHtml).toContain('<img src="https://cdn.test/a.png" alt="Web"');
    expect(article.contentHtml).toContain('<img src="/media/2026/raw.webp" alt="raw"');
  });

  it("detects the language when none is given", () => {
    const article = parsed(
      "a.md",
      "Le gouvernement a annoncé mardi une nouvelle réforme des retraites, qui sera présentée au parlement la semaine prochaine.",
    );
    expect(article.language).toBe("fr");
  });

  it("accepts tags as a comma-separated string and drops duplicates and #", () => {
    expect(parsed("a.md", '---\ntags: "a, #b, a"\n---\nText.').tags).toEqual(["a", "b"]);
  });

  it("gives the same hash for the same text under another name, and another for an edit", () => {
    const a = parsed("a.md", "---\ntitle: T\n---\nText.");
    const b = parsed("sub/b.md", "---\ntitle: T\n---\nText.");
    const c = parsed("a.md", "---\ntitle: T\n---\nText, edited.");
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });
});

describe("parseArticle() on bad files", () => {
  it.each([
    ["empty.md", "", "the file is empty"],
    ["blank.txt", "  \n\n ", "the file is empty"],
    ["photo.pdf", "%PDF-1.4", "a .pdf file is not an article (use .md or .txt)"],
    ["noext", "text", "a file without extension is not an article (use .md or .txt)"],
  ])("%s: %s", (path, text, reason) => {
    expect(skipped(path, text)).toEqual({ path, reason });
  });

  it("names the line of broken YAML", () => {
    const result = skipped("a.md", "---\ntitle: ok\ntags: [a, b\n---\nText.");
    expect(result.reason).toMatch(/^front matter is not valid YAML/);
    expect(result.line).toBe(3);
  });

  it.each([
    ["an unclosed quote", '---\ntitle: "unclosed\ndate: 2026-11-28\n---\nText.', 2],
    ["an unclosed list", "---\ntitle: ok\ntags: [a, b\ndate: 2026-11-28\n---\nText.", 3],
    ["a repeated key", "---\ntitle: ok\ntitle: again\n---\nText.", 3],
  ])("names the line of broken YAML: %s, not the line after it", (_, text, line) => {
    const result = skipped("a.md", text);
    expect(result.reason).toMatch(/^front matter is not valid YAML/);
    expect(result.line).toBe(line);
  });

  it("names the line of a bad date", () => {
    expect(skipped("a.md", "---\ntitle: ok\n\ndate: tomorrow\n---\nText.")).toEqual({
      path: "a.md",
      reason:
        '`date` must be an ISO 8601 date like 2026-11-28 or 2026-11-28T09:30:00+01:00 (got "tomorrow")',
      line: 4,
    });
  });

  it.each([
    ["draft: perhaps", "`draft` must be true or false"],
    ["title: [a, b]", "`title` must be text"],
    ["language: 12345678901", "`language` must be a BCP 47 language tag"],
    ["slug: Hello World", "`slug` may hold only lower-case letters, digits and dashes"],
    ["image: javascript:alert(1)", "`image` URL must start with https:// or http://"],
    ["image: ../../etc/passwd", "`image` must stay inside the articles folder"],
    ["tags: {a: 1}", "`tags` must be a list"],
  ])("refuses %s", (line, reason) => {
    const result = skipped("a.md", `---\n${line}\n---\nText.`);
    expect(result.reason).toContain(reason);
    expect(result.line).toBe(2);
  });

  it.each([
    ["title", 301],
    ["summary", 1001],
    ["author", 201],
  ])("refuses a %s longer than its limit, naming it", (key, length) => {
    const result = skipped("a.md", `---\n${key}: ${"x".repeat(length)}\n---\nText.`);
    expect(result.reason).toContain(`\`${key}\` is ${length} characters long`);
    expect(result.line).toBe(2);
  });

  it("refuses more than 30 tags, or a tag longer than 50 characters", () => {
    const many = Array.from({ length: 31 }, (_, i) => `t${i}`).join(", ");
    expect(skipped("a.md", `---\ntags: [${many}]\n---\nText.`).reason).toContain("up to 30 tags");
    expect(skipped("a.md", `---\ntags: [${"x".repeat(51)}]\n---\nText.`).reason).toContain(
      "up to 30 tags",
    );
  });

  it("refuses a megabyte of front matter without trouble", () => {
    const huge = `---\ntitle: ok\nsummary: "${"y".repeat(1_000_000)}"\n---\nText.`;
    expect(skipped("a.md", huge).reason).toContain("`summary` is 1000000 characters long");
  });

  it("refuses front matter that is not closed", () => {
    expect(skipped("a.md", "---\ntitle: ok\nText.")).toMatchObject({ line: 1 });
  });

  it("refuses front matter that is not a mapping", () => {
    expect(skipped("a.md", "---\n- a\n- b\n---\nText.").reason).toContain("key: value");
  });

  it("refuses undecodable text, naming the line", () => {
    const bytes = new Uint8Array([...utf8("line one\nline two "), 0xc3, 0x28, ...utf8("\n")]);
    expect(skipped("a.txt", bytes)).toEqual({
      path: "a.txt",
      reason: "not valid UTF-8 text (save the file as UTF-8)",
      line: 2,
    });
  });

  it("refuses binary data", () => {
    expect(skipped("a.md", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 1])).reason).toBe(
      "binary data, not text",
    );
  });

  it("refuses a Markdown file with front matter but no text", () => {
    expect(skipped("a.md", "---\ndate: 2026-01-01\n---\n\n").reason).toBe(
      "the article has no text",
    );
  });
});
