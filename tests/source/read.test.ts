import { readFileSync } from "node:fs";
import { describe, expect, it, onTestFinished } from "vitest";
import type { ParsedArticle } from "../../src/article.ts";
import { DetectorThread, detectHere } from "../../src/source/detector.ts";
import { parseArticle } from "../../src/source/parse.ts";
import { readArticleFiles } from "../../src/source/read.ts";
import { listArticleFiles } from "../../src/source/scan.ts";
import type { Skipped } from "../../src/store/store.ts";
import { articlesDir } from "../helpers/articles.ts";

const german =
  "Der belarussische Außenminister ist zu einem Besuch in Nordkorea eingetroffen. Er will dort über die Zusammenarbeit beider Länder sprechen.";
const english =
  "The council approved the budget for the new harbour bridge on Monday, after a debate that lasted well into the night.";

describe("reading a batch of article files", () => {
  for (const [where, detector] of [
    ["on this thread", () => ({ detect: detectHere, close: async () => {} })],
    ["on a thread of their own", () => new DetectorThread()],
  ] as const) {
    it(`detects the languages ${where} as the single-file parser does`, async () => {
      const articles = articlesDir();
      articles.write("de.md", `---\ntitle: Besuch\n---\n${german}`);
      articles.write("en.txt", english);
      articles.write("given.md", `---\ntitle: Visite\nlanguage: fr\n---\n${english}`);
      articles.write("short.md", "# Kurz\n\nText.");
      articles.write("junk.md", new Uint8Array([0xff, 0, 1]));
      const { files } = listArticleFiles(articles.dir);
      const options = { defaultLanguage: "sv" };
      const thread = detector();
      onTestFinished(() => thread.close());
      const read = new Map<string, ParsedArticle | Skipped>(
        (await readArticleFiles(files, options, thread.detect)).map((r) =>
          r.kind === "parsed" ? [r.article.path, r.article] : [r.skipped.path, r.skipped],
        ),
      );
      const language = (path: string) => {
        const result = read.get(path);
        return result !== undefined && "language" in result ? result.language : result;
      };
      expect(["de.md", "en.txt", "given.md", "short.md"].map(language)).toEqual([
        "de",
        "en",
        "fr",
        "sv",
      ]);
      expect(read.get("junk.md")).toMatchObject({ reason: "binary data, not text" });
      // The same articles, hashes included, as the single-file path (preview, checks) makes.
      for (const file of files) {
        const alone = parseArticle(file.path, readFileSync(file.absolutePath), options);
        expect(read.get(file.path)).toEqual(alone);
      }
    });
  }

  it("answers texts with their languages on a thread, and none for nothing or too little", async () => {
    const thread = new DetectorThread();
    const answers = [thread.detect([german, undefined, "Text."]), thread.detect([english])];
    expect(await Promise.all(answers)).toEqual([["de", undefined, undefined], ["en"]]);
    await thread.close();
    // A scan still waiting when the thread ended fails, instead of waiting for ever.
    await expect(thread.detect([german])).rejects.toThrow(/the language detector stopped/);
  });
});
