import { describe, expect, it } from "vitest";
import type { ParsedArticle } from "../../src/article.ts";
import { parseAuthor } from "../../src/source/author.ts";
import { isParsed, parseArticle } from "../../src/source/parse.ts";

const parse = (text: string) =>
  parseArticle("a.md", new TextEncoder().encode(text), { defaultLanguage: "en" });

describe("parseAuthor()", () => {
  it("takes a name, or a name and a fediverse handle (the leading @ optional)", () => {
    expect(parseAuthor("  Jane   Doe ")).toEqual({ name: "Jane Doe" });
    expect(parseAuthor({ name: "Jane Doe", fediverse: "jane@Example.Social" })).toEqual({
      name: "Jane Doe",
      fediverse: "@jane@example.social",
    });
    expect(parseAuthor({ fediverse: "@jane@example.social" })).toEqual({
      fediverse: "@jane@example.social",
    });
    expect(parseAuthor(undefined)).toEqual({});
  });

  it("says what is wrong with anything else", () => {
    expect(parseAuthor({ name: "Jane", fediverse: "https://example.social/@jane" })).toBe(
      '`author` fediverse must be a handle like "@jane@example.social" (got "https://example.social/@jane")',
    );
    expect(parseAuthor({ name: "Jane", mastodon: "@jane@example.social" })).toContain(
      "(got mastodon)",
    );
    expect(parseAuthor(["Jane"])).toContain("`author` must be a name");
    expect(parseAuthor({ name: 3 })).toContain("`author` must be a name");
  });
});

describe("parseArticle() with an author's fediverse account", () => {
  it("keeps the name and the handle", () => {
    const result = parse(
      '---\nauthor: { name: Jane Doe, fediverse: "@jane@example.social" }\n---\nText.',
    );
    expect(isParsed(result)).toBe(true);
    const article = result as ParsedArticle;
    expect(article.author).toBe("Jane Doe");
    expect(article.authorFediverse).toBe("@jane@example.social");
  });

  it("leaves the hash of an article with a plain author name as it was", () => {
    const plain = parse("---\nauthor: Jane Doe\n---\nText.") as ParsedArticle;
    const mapped = parse("---\nauthor: { name: Jane Doe }\n---\nText.") as ParsedArticle;
    expect(mapped.hash).toBe(plain.hash);
    expect(plain).not.toHaveProperty("authorFediverse");
  });

  it("skips the file with the line of a bad handle", () => {
    const result = parse("---\ntitle: A\nauthor: { name: Jane, fediverse: jane }\n---\nText.");
    expect(isParsed(result)).toBe(false);
    expect(result).toMatchObject({ line: 3 });
    expect((result as { reason: string }).reason).toContain("`author` fediverse must be a handle");
  });
});
