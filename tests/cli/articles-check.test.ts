import { execFile } from "node:child_process";
import { copyFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { articlesDir, seedPath, tempDir } from "../helpers/articles.ts";

const cli = fileURLToPath(new URL("../../src/cli/articles-check.ts", import.meta.url));

async function check(dir: string) {
  const env = { ...process.env, ARTICLES_DIR: dir, DATA_DIR: tempDir(), KEYS_DIR: tempDir() };
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [cli], { env, cwd: tempDir() });
    return { code: 0, stdout };
  } catch (error) {
    const { code, stdout } = error as { code: number; stdout: string };
    return { code, stdout };
  }
}

describe("npm run articles:check", () => {
  it("lists each article and exits 0 when all is well", async () => {
    const articles = articlesDir();
    copyFileSync(seedPath, articles.path("belarus-nordkorea.txt"));
    articles.write("later.md", "---\ntitle: Later\ndate: 2999-01-01\n---\nText.");
    const { code, stdout } = await check(articles.dir);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^belarus-nordkorea +de +\(when first seen\) +new +Wie die beiden Länder/,
    );
    expect(lines[1]).toMatch(/^later +en +2999-01-01 00:00 +scheduled +Later$/);
    expect(lines.at(-1)).toBe("2 articles, 0 problems.");
  });

  it("prints a line per problem with file and line, and exits 1", async () => {
    const articles = articlesDir();
    articles.write("ok.md", "# OK\n\nText.");
    articles.write("bad.md", "---\ntitle: fine\ndate: soon\n---\nText.");
    articles.write("empty.txt", "");
    const { code, stdout } = await check(articles.dir);
    expect(code).toBe(1);
    expect(stdout).toContain("problem  bad.md:3: `date` must be an ISO 8601 date");
    expect(stdout).toContain("problem  empty.txt: the file is empty");
    expect(stdout.trim().split("\n").at(-1)).toBe("1 article, 2 problems.");
  });

  it("prints a line per element the sanitiser removed, with file and line (issue #15.4)", async () => {
    const articles = articlesDir();
    articles.write(
      "embed.md",
      '# Embed\n\nText.\n\n<iframe src="https://video.test/1"></iframe>\n',
    );
    const { code, stdout } = await check(articles.dir);
    expect(code).toBe(0);
    expect(stdout).toContain(
      'warning  embed.md:5: <iframe src="https://video.test/1"> removed (embeds do not play here); a link to its source is left in its place',
    );
    expect(stdout.trim().split("\n").at(-1)).toBe("1 article, 0 problems, 1 warning.");
  });
});
