import { describe, expect, it } from "vitest";
import type { Article } from "../../src/article.ts";
import { correctionNotesHtml } from "../../src/correction-notes.ts";
import { isParsed, parseArticle } from "../../src/source/parse.ts";
import { makeArticle } from "../helpers/article-fixture.ts";

const parse = (frontMatter: string) =>
  parseArticle(
    "story.md",
    new TextEncoder().encode(`---\ntitle: Story\nlanguage: en\n${frontMatter}\n---\nThe text.\n`),
    { defaultLanguage: "en" },
  );

function corrections(frontMatter: string) {
  const result = parse(frontMatter);
  if (!isParsed(result)) throw new Error(`skipped: ${result.reason}`);
  return result.corrections;
}

describe("front matter `correction:`", () => {
  it("reads a text, a dated notice, and a list of both, in order", () => {
    expect(corrections("correction: The vote was on Sunday.")).toEqual([
      { text: "The vote was on Sunday." },
    ]);
    expect(corrections('correction: { date: 2026-12-06, text: "Sunday, not Monday." }')).toEqual([
      { text: "Sunday, not Monday.", date: new Date("2026-12-06T00:00:00Z") },
    ]);
    expect(
      corrections(
        "correction:\n  - { date: 2026-12-06T10:30:00+01:00, text: First. }\n  - Second.",
      ),
    ).toEqual([{ text: "First.", date: new Date("2026-12-06T09:30:00Z") }, { text: "Second." }]);
  });

  it("leaves an article without corrections as it was (no field, same hash as before)", () => {
    const plain = parse("");
    const corrected = parse("correction: Fixed a name.");
    if (!isParsed(plain) || !isParsed(corrected)) throw new Error("skipped");
    expect("corrections" in plain).toBe(false);
    expect(corrected.hash).not.toBe(plain.hash);
  });

  it.each([
    ["correction: { text: Sunday, not Monday. }", /date and a text only.*"not Monday\."/],
    ["correction: { date: yesterday, text: Fixed. }", /ISO 8601 date.*"yesterday"/],
    ["correction: [1, 2]", /must be a text/],
    ["correction: ''", /must be a text/],
  ])("skips `%s` with a reason on the line of `correction`", (frontMatter, reason) => {
    const result = parse(frontMatter);
    if (isParsed(result)) throw new Error("expected a skip");
    expect(result.reason).toMatch(reason);
    expect(result.line).toBe(4);
  });
});

describe("correctionNotesHtml()", () => {
  const article = (language: string, corrections: Article["corrections"]) =>
    makeArticle({
      language,
      published: new Date("2026-12-01T12:00:00Z"),
      updated: new Date("2026-12-05T23:30:00Z"),
      ...(corrections === undefined ? {} : { corrections }),
    });

  it("is empty for an article without corrections", () => {
    expect(correctionNotesHtml(article("en", undefined), "UTC")).toBe("");
  });

  it("dates each notice in the article's language and the time zone, escaping the text", () => {
    const html = correctionNotesHtml(
      article("de", [
        { text: "Ryschenkow <nicht> Ryzhenkov.", date: new Date("2026-12-06T00:00:00Z") },
        { text: "Undatiert." },
      ]),
      "Europe/Berlin",
    );
    expect(html).toContain('aria-label="Korrekturen"');
    expect(html).toContain(
      '<strong>Korrektur vom <time datetime="2026-12-06T00:00:00.000Z">6. Dezember 2026</time>:</strong> Ryschenkow &lt;nicht&gt; Ryzhenkov.',
    );
    // Undated: the last edit, 23:30 UTC, is already 6 December in Berlin.
    expect(html).toContain(">6. Dezember 2026</time>:</strong> Undatiert.");
    const english = correctionNotesHtml(article("en-GB", [{ text: "Fixed." }]), "UTC");
    expect(english.replace(/<[^>]*>/g, "")).toContain("Correction, 5 December 2026: Fixed.");
  });
});
