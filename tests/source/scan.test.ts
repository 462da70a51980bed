import { describe, expect, it } from "vitest";
import { isIgnoredFile, listArticleFiles } from "../../src/source/scan.ts";
import { articlesDir } from "../helpers/articles.ts";

describe("listArticleFiles()", () => {
  it("leaves out editors' swap, backup, autosave, lock and temp files, and vim's probe", () => {
    const articles = articlesDir();
    const editors = [
      ".story.md.swp",
      "story.md~",
      "#story.md#",
      ".#story.md",
      ".~lock.story.md#",
      "story.md.tmp",
      "story.md___jb_tmp___",
      "story.md___jb_old___",
      "4913",
    ];
    for (const name of ["story.md", "desk/other.txt", ...editors]) articles.write(name, "# Text");
    const { files, refused } = listArticleFiles(articles.dir);
    expect(files.map((f) => f.path).sort()).toEqual(["desk/other.txt", "story.md"]);
    expect(refused).toEqual([]);
    expect(editors.filter((name) => !isIgnoredFile(name))).toEqual([]);
    expect(isIgnoredFile("4913.md")).toBe(false);
    expect(isIgnoredFile("#hashtag.md")).toBe(false);
  });
});
