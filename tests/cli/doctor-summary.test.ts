import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { doctor } from "../helpers/doctor.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

const SUMMARY = `a < b und c > d & e &amp; "q" <script>alert(1)</script>`;

describe("npm run doctor: the summary Mastodon will show", () => {
  it("is the summary the author wrote, markup and entities included", async () => {
    const folders = heraldFolders();
    writeFileSync(
      join(folders.articles, "hostile.md"),
      `---\ntitle: Hostile\nsummary: '${SUMMARY}'\n---\nThe text.\n`,
    );
    const herald = await startHerald(folders);
    const { stdout } = await doctor(folders, herald.origin);
    expect(stdout).toContain(
      `ok    Summary as written: Mastodon shows it as the author wrote it: "${SUMMARY}"`,
    );
  });
});
