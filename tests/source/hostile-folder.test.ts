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
      { path: "huge.md", reason: "too large (100.0 MiB; at most 1 MiB)" },
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
    expect(report.counted).toEqual({ created: 2000, updated: 0, deleted: 0 });
    expect(report.changes).toHaveLength(100); // the first 100 named
    expect(new Set(report.changes.map((c) => c.article.id)).size).toBe(100);
    expect(report.skipped.map((s) => s.path)).toEqual(["batch/junk.md"]);
    expect((await scan(articles.dir, store)).changes).toEqual([]);
    expect(await store.countPublished()).toBe(2000);
  });

  it("refuses huge or explosive front matter with a clear line, and publishes the rest", async () => {
    const articles = articlesDir();
    articles.write("good.md", "# Good\n\nText.");
    articles.write("long-title.md", `---\ntitle: ${"A".repeat(1_000_000)}\n---\nText.`);
    const tags = Array.from({ length: 100_000 }, (_, i) => `t${i}`).join(", ");
    articles.write("many-tags.md", `---\ntags: [${tags}]\n---\nText.`);
    // "Billion laughs": nine aliases of nine aliases of … would expand to millions of strings.
    const levels = ["a", "b", "c", "d", "e", "f"];
    const bomb = levels
      .map((name, i) =>
        i === 0
          ? `${name}: &${name} [${Array(9).fill('"lol"').join(",")}]`
          : `${name}: &${name} [${Array(9)
              .fill(`*${levels[i - 1]}`)
              .join(",")}]`,
      )
      .join("\n");
    articles.write("bomb.md", `---\n${bomb}\ntitle: Bomb\n---\nText.`);
    articles.write(
      "deep.md",
      `---\ntitle: Deep\nx: ${"[".repeat(5000)}${"]".repeat(5000)}\n---\nText.`,
    );
    const { store } = sqliteStore();
    const report = await scan(articles.dir, store);
    expect(report.changes.map((c) => c.article.slug)).toEqual(["good"]);
    const reasons = Object.fromEntries(report.skipped.map((s) => [s.path, s.reason]));
    expect(reasons["long-title.md"]).toMatch(/`title` is 1000000 characters long; at most 300/);
    expect(reasons["many-tags.md"]).toMatch(/`tags` may hold up to 30 tags/);
    expect(reasons["bomb.md"]).toMatch(/front matter is not valid YAML: .*alias/i);
    expect(reasons["deep.md"]).toMatch(/front matter is not valid YAML/);
    expect(await store.countPublished()).toBe(report.changes.length);
  });

  it("publishes markup from front matter as text only, never as HTML", async () => {
    const articles = articlesDir();
    articles.write(
      "x.md",
      '---\ntitle: "<script>alert(1)</script> & <b>bold</b>"\nsummary: "<img src=x onerror=alert(1)>"\nauthor: "<i>me</i>"\ntags: ["<svg onload=alert(1)>"]\n---\nText with <iframe src="https://evil.test"></iframe> and [a link](javascript:alert(1)).',
    );
    const { store } = sqliteStore();
    const report = await scan(articles.dir, store);
    expect(report.skipped).toEqual([]);
    const [article] = await store.listPublished({ limit: 1 });
    expect(article?.title).toBe("<script>alert(1)</script> & <b>bold</b>"); // text, escaped on output
    expect(article?.summary).toBe("<img src=x onerror=alert(1)>");
    expect(article?.contentHtml).not.toMatch(/<iframe|href="javascript:/);
  });
});
