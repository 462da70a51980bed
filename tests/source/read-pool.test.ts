import { describe, expect, it } from "vitest";
import { readArticleFile } from "../../src/source/read.ts";
import { fileReader, WORKER_THRESHOLD } from "../../src/source/read-pool.ts";
import { listArticleFiles } from "../../src/source/scan.ts";
import { articlesDir } from "../helpers/articles.ts";

describe("fileReader()", () => {
  it("reads a large scan in worker threads into exactly what the main thread reads", async () => {
    const articles = articlesDir();
    for (let i = 0; i < WORKER_THRESHOLD; i++) {
      const kind = i % 10;
      if (kind === 0) articles.write(`broken-${i}.md`, "---\ntitle: [unclosed\n---\nText.\n");
      else if (kind === 1)
        articles.write(
          `plain-${i}.txt`,
          `Nachricht ${i}. Der Rat hat heute über den Haushalt des kommenden Jahres beraten.\n`,
        );
      else
        articles.write(
          `desk/story-${i}.md`,
          `---\ntitle: Story ${i}\nauthor: Jane Doe\ntags: [rat]\n---\nThe council met on day ${i} and <script>alert(1)</script> agreed.\n`,
        );
    }
    const options = {
      defaultLanguage: "en",
      authors: new Map([["Jane Doe", "@jane@example.test"]]),
    };
    const { files } = listArticleFiles(articles.dir);
    expect(fileReader(WORKER_THRESHOLD - 1, options).threads).toBe(0);
    const reader = fileReader(files.length, options);
    expect(reader.threads).toBeGreaterThan(0);
    try {
      const scanned = await reader.read(files);
      expect(scanned).toEqual(files.map((file) => readArticleFile(file, options)));
      expect(scanned.filter((f) => f.kind === "skipped")).toHaveLength(WORKER_THRESHOLD / 10);
      const parsed = scanned.flatMap((f) => (f.kind === "parsed" ? [f.article] : []));
      expect(parsed.find((a) => a.path.startsWith("plain-"))?.language).toBe("de");
      expect(parsed.find((a) => a.path.startsWith("desk/"))?.authorFediverse).toBe(
        "@jane@example.test",
      );
    } finally {
      await reader.close();
    }
  });
});
