import { truncateSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runScan } from "../../src/pipeline.ts";
import { articlesDir, sqliteStore } from "../helpers/articles.ts";

/** What a careless or hostile articles folder can hold, and that it harms nothing else. */
describe("a hostile articles folder", () => {
  const scan = (dir: string, store: ReturnType<typeof sqliteStore>["store"]) =>
    runScan({ articlesDir: dir, parseOptions: { defaultLanguage: "en" }, store, publishers: [] });

  it("skips a 100 MB file without reading it, and publishes the rest", async () => {
    const articles = articlesDir();
    articles.write("good.md", "# Good\n\nText.");
    writeFileSync(articles.path("huge.md"), "");
    truncateSync(articles.path("huge.md"), 100 * 1024 * 1024); // sparse: no 100 MB on disk
    const { store } = sqliteStore();
    const started = performance.now();
    const report = await scan(articles.dir, store);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(report.skipped).toEqual([
      { path: "huge.md", reason: "too large (100.0 MiB; at most 5 MiB)" },
    ]);
    expect(report.changes.map((c) => c.article.slug)).toEqual(["good"]);
  });

  it("takes 2,000 files dropped at once, each exactly once, with binary junk among them", async () => {
    const articles = articlesDir();
    for (let i = 0; i < 2000; i++)
      articles.write(`batch/${i}.md`, `# Story ${i}\n\nText number ${i}.`);
    articles.write("batch/junk.md", new Uint8Array([0xff, 0xd8, 0, 1, 2, 3]));
    const { store } = sqliteStore();
    const report = await scan(articles.dir, store);
    expect(report.changes).toHaveLength(2000);
    expect(new Set(report.changes.map((c) => c.article.id)).size).toBe(2000);
    expect(report.skipped.map((s) => s.path)).toEqual(["batch/junk.md"]);
    expect((await scan(articles.dir, store)).changes).toEqual([]);
    expect(await store.countPublished()).toBe(2000);
  });
});
