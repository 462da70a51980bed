import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseArticle } from "../../src/source/parse.ts";
import { detectHere, readArticleFiles } from "../../src/source/read.ts";
import { readBatches } from "../../src/source/read-batches.ts";
import { ReaderThread } from "../../src/source/reader-thread.ts";
import { type FoundFile, listArticleFiles } from "../../src/source/scan.ts";
import { byPath, type ScannedFile } from "../../src/store/store.ts";
import { articlesDir } from "../helpers/articles.ts";

const german =
  "Der belarussische Außenminister ist zu einem Besuch in Nordkorea eingetroffen. Er will dort über die Zusammenarbeit beider Länder sprechen.";
const english =
  "The council approved the budget for the new harbour bridge on Monday, after a debate that lasted well into the night.";

describe("reading a batch of article files", () => {
  const options = { defaultLanguage: "sv" };
  const reads: [string, (files: readonly FoundFile[]) => Promise<ScannedFile[]>][] = [
    ["on this thread", (files) => readArticleFiles(files, options, detectHere)],
    [
      "with the languages detected on a reader thread",
      (files) => withThread((thread) => readArticleFiles(files, options, thread.detect)),
    ],
    ["half on a reader thread", (files) => withThread((thread) => thread.read(files, options))],
  ];
  for (const [how, read] of reads) {
    it(`reads ${how} as the single-file parser does, in order, languages included`, async () => {
      const articles = articlesDir();
      articles.write("a-de.md", `---\ntitle: Besuch\n---\n${german}`);
      articles.write("b-en.txt", english);
      articles.write("c-given.md", `---\ntitle: Visite\nlanguage: fr\n---\n${english}`);
      articles.write("d-junk.md", new Uint8Array([0xff, 0, 1]));
      articles.write("e-short.md", "# Kurz\n\nText.");
      const files = listArticleFiles(articles.dir).files.sort(byPath);
      const scanned = (await read(files)).map((r) => (r.kind === "parsed" ? r.article : r.skipped));
      expect(scanned.map((r) => ("language" in r ? r.language : r.reason))).toEqual([
        "de",
        "en",
        "fr",
        "binary data, not text",
        "sv",
      ]);
      // The same articles, hashes included, as the single-file path (preview, checks) makes.
      expect(scanned).toEqual(
        files.map((file) => parseArticle(file.path, readFileSync(file.absolutePath), options)),
      );
    });
  }

  it("fails, instead of waiting for ever, once the reader thread has stopped", async () => {
    const thread = new ReaderThread();
    expect(await thread.detect([german, undefined, "Text."])).toEqual(["de", undefined, undefined]);
    await thread.close();
    await expect(thread.detect([german])).rejects.toThrow(/The reader thread stopped: exit code/);
    await expect(thread.read([], options)).rejects.toThrow(/The reader thread stopped: exit code/);
  });
});

describe("reading a folder's files in batches", () => {
  it("gives every file once, in order, in batches of 200, however far ahead it reads", async () => {
    const articles = articlesDir();
    for (let i = 0; i < 650; i++) {
      articles.write(`story-${String(i).padStart(3, "0")}.md`, `# Story ${i}\n\n${english}`);
    }
    const files = listArticleFiles(articles.dir).files.sort(byPath);
    const batches: ScannedFile[][] = [];
    for await (const batch of readBatches(files, { defaultLanguage: "sv" })) batches.push(batch);
    expect(batches.map((batch) => batch.length)).toEqual([200, 200, 200, 50]);
    const read = batches.flat();
    expect(read.map((file) => (file.kind === "parsed" ? file.article.path : file.kind))).toEqual(
      files.map((file) => file.path),
    );
    expect(read.map((file) => (file.kind === "parsed" ? file.article.title : ""))).toEqual(
      files.map((_, i) => `Story ${i}`),
    );
    expect(new Set(read.map((file) => file.kind === "parsed" && file.article.language))).toEqual(
      new Set(["en"]),
    );
  });

  it("gives one empty batch for no files", async () => {
    const batches: ScannedFile[][] = [];
    for await (const batch of readBatches([], { defaultLanguage: "sv" })) batches.push(batch);
    expect(batches).toEqual([[]]);
  });
});

async function withThread<T>(use: (thread: ReaderThread) => Promise<T>): Promise<T> {
  const thread = new ReaderThread();
  try {
    return await use(thread);
  } finally {
    await thread.close();
  }
}
