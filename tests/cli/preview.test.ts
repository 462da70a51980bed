import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { articlesDir, seedPath } from "../helpers/articles.ts";

const cli = fileURLToPath(new URL("../../src/cli/preview.ts", import.meta.url));

async function preview(file: string, articles: string, extra: Record<string, string> = {}) {
  const env = {
    ...process.env,
    ARTICLES_DIR: articles,
    PUBLIC_URL: "https://news.example",
    ...extra,
  };
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [cli, file], { env });
    return { code: 0, stdout };
  } catch (error) {
    const { code, stdout } = error as { code: number; stdout: string };
    return { code, stdout };
  }
}

describe("npm run preview", () => {
  it("shows the seed story as feed readers, Mastodon and link cards will, without warnings", async () => {
    const articles = articlesDir();
    const { code, stdout } = await preview(fileURLToPath(seedPath), articles.dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^ {2}title {5}Wie die beiden Länder am Montag mitteilten, wird der Außenminister von Weißrussland diese Woche Nordkorea besuchen\.$/m,
    );
    expect(stdout).toMatch(/^ {2}language {2}de$/m);
    expect(stdout).toContain("Mastodon, POST_TYPE=article (the default)");
    expect(stdout).toMatch(/and a link to https:\/\/news\.example\/articles\/belarus-nordkorea;/);
    expect(stdout).toMatch(/^ {2}og:title {8}Wie die beiden Länder/m);
    expect(stdout).toMatch(/^No warnings\.$/m);
  });

  it("shows the byline and the mention of an author's fediverse account (#18.1)", async () => {
    const articles = articlesDir();
    articles.write(
      "byline.md",
      '---\ntitle: Bylined\nlanguage: en\nauthor: { name: Jane Doe, fediverse: "@jane@example.social" }\n---\nThe text.',
    );
    const { code, stdout } = await preview(articles.path("byline.md"), articles.dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}author {4}Jane Doe$/m);
    expect(stdout).toMatch(/^ {2}It mentions @jane@example\.social, whose inbox gets it too/m);
    expect(stdout).toMatch(/^ {2}byline {10}@jane@example\.social \(once their account lists/m);
  });

  it("lists the section accounts that will boost the story (#18.3)", async () => {
    const articles = articlesDir();
    articles.write("wahl.md", "---\ntitle: Wahl\nlanguage: de\ntags: [Wahl, Wetter]\n---\nText.");
    const SECTIONS = "politik: Politik, tags politik, wahl; wirtschaft: Wirtschaft";
    const { code, stdout } = await preview(articles.path("wahl.md"), articles.dir, { SECTIONS });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Section accounts \(SECTIONS\)$/m);
    expect(stdout).toMatch(/^ {2}@politik@news\.example \(Politik\) boosts it, for #wahl$/m);
    expect(stdout).not.toContain("@wirtschaft@");
    articles.write("other.md", "---\ntitle: Other\nlanguage: de\n---\nText.");
    const other = await preview(articles.path("other.md"), articles.dir, { SECTIONS });
    expect(other.stdout).toMatch(/^ {2}none boosts it: it carries no section's tag/m);
    const without = await preview(articles.path("wahl.md"), articles.dir);
    expect(without.stdout).not.toContain("Section accounts");
  });

  it("shows the byline of a story whose author's handle is in the authors file (#18.1)", async () => {
    const articles = articlesDir();
    articles.write("authors.yml", 'Jane Doe: "@jane@example.social"\nMax: max\n');
    articles.write(
      "byline.md",
      "---\ntitle: Bylined\nlanguage: en\nauthor: Jane Doe\n---\nThe text.",
    );
    const { code, stdout } = await preview(articles.path("byline.md"), articles.dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}byline {4}Jane Doe @jane@example\.social$/m);
    expect(stdout).toMatch(/^ {2}It mentions @jane@example\.social/m);
    expect(stdout).toMatch(/^problem {2}authors\.yml:2: "Max" must be a handle/m);
  });

  it("shows the correction notices, dated in TIME_ZONE, and says where they appear", async () => {
    const articles = articlesDir();
    articles.write(
      "fixed.md",
      '---\ntitle: Fixed story\nlanguage: en\ncorrection: { date: 2026-12-06, text: "The vote was on Sunday." }\n---\nThe text.',
    );
    const { code, stdout } = await preview(articles.path("fixed.md"), articles.dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^ {2}corrections 1, after the text \(also on the page and in the fediverse post\): Correction, December 6, 2026: The vote was on Sunday\.$/m,
    );
    // The notice is in what Mastodon receives too.
    expect(stdout).toMatch(/the full text as a post: .*Correction, December 6, 2026/s);
  });

  it("warns about a missing summary and language, and inline images Mastodon strips", async () => {
    const articles = articlesDir();
    articles.write(
      "photo.md",
      "---\ntitle: Photo story\nimage: lead.jpg\ntags: [bilder]\n---\nA cat.\n\n![A cat](cat.jpg)",
    );
    const { code, stdout } = await preview(articles.path("photo.md"), articles.dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Preview of photo\.md$/m);
    expect(stdout).toMatch(/^ {2}image {5}https:\/\/news\.example\/media\/lead\.jpg\?w=1600$/m);
    expect(stdout).toMatch(/^ {2}tags {6}bilder$/m);
    expect(stdout).toMatch(/! no `summary:` in front matter/);
    expect(stdout).toMatch(
      /! no language given and too little text to tell: the site's language \(en\) is assumed/,
    );
    expect(stdout).toMatch(
      /! 1 inline image in the text: Mastodon strips <img> from posts and shows them as attachments/,
    );
  });

  it("warns about an empty summary, and says why a broken file cannot be published", async () => {
    const articles = articlesDir();
    articles.write("title-only.md", "---\ntitle: Only a title\nlanguage: de\n---\n");
    articles.write("broken.md", "---\ntitle: [unclosed\n---\nText.");
    const empty = await preview(articles.path("title-only.md"), articles.dir);
    expect(empty.stdout).toMatch(
      /! empty summary: Mastodon \(POST_TYPE=article\) shows only the title/,
    );
    const broken = await preview(articles.path("broken.md"), articles.dir);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^problem {2}broken\.md:2: front matter is not valid YAML/m);
  });

  it("warns about each element the sanitiser removed, with file and line (issue #15.4)", async () => {
    const articles = articlesDir();
    articles.write("embed.md", "---\ntitle: Embed\n---\nText <script>alert(1)</script> here.\n");
    const { code, stdout } = await preview(articles.path("embed.md"), articles.dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}! embed\.md:4: <script> removed \(not allowed in articles\)$/m);
  });
});
