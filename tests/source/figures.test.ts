import { describe, expect, it } from "vitest";
import type { ParsedArticle } from "../../src/article.ts";
import { captionOf } from "../../src/source/figures.ts";
import { isParsed, parseArticle } from "../../src/source/parse.ts";

/** An article of `body`, titled unless `titled` is false. */
function parsed(body: string, titled = true): ParsedArticle {
  const text = titled ? `---\ntitle: A story\n---\n${body}` : body;
  const result = parseArticle("news/story.md", new TextEncoder().encode(text), {
    defaultLanguage: "en",
  });
  if (!isParsed(result)) throw new Error(`expected an article, got: ${result.reason}`);
  return result;
}

describe("captionOf()", () => {
  it("splits a title into caption and credit at the first bar", () => {
    expect(captionOf("The vote | Photo: AP")).toEqual({ caption: "The vote", credit: "Photo: AP" });
    expect(captionOf("The vote")).toEqual({ caption: "The vote" });
    expect(captionOf(" | Photo: AP | Archive")).toEqual({ credit: "Photo: AP | Archive" });
    expect(captionOf(" | ")).toEqual({});
  });
});

describe("Markdown images with a title (issue #15.3)", () => {
  it("makes an image alone in its paragraph a figure with caption and credit", () => {
    const { contentHtml } = parsed(
      'Text.\n\n![The members voting](vote.jpg "The final vote | Photo: AP")\n\nMore.\n',
    );
    expect(contentHtml).toContain(
      '<figure><img src="/media/news/vote.jpg" alt="The members voting"><figcaption>The final vote <small class="credit">Photo: AP</small></figcaption></figure>',
    );
    expect(contentHtml).not.toMatch(/<p>\s*<figure|<p><img|title=/);
  });

  it("makes a caption without a credit, and a credit without a caption", () => {
    expect(parsed('![A](a.png "Just a caption")\n').contentHtml).toContain(
      "<figcaption>Just a caption</figcaption></figure>",
    );
    expect(parsed('![A](a.png "| Foto: dpa")\n').contentHtml).toContain(
      '<figcaption><small class="credit">Foto: dpa</small></figcaption>',
    );
  });

  it("escapes the caption and keeps the figure through the sanitiser (raw HTML present)", () => {
    const { contentHtml } = parsed(
      'Text <b>bold</b>.\n\n![A](a.png "Fish & <chips> | Photo: <i>AP</i>")\n',
    );
    expect(contentHtml).toContain(
      '<figure><img src="/media/news/a.png" alt="A" /><figcaption>Fish &amp; &lt;chips&gt; <small class="credit">Photo: &lt;i&gt;AP&lt;/i&gt;</small></figcaption></figure>',
    );
  });

  it("leaves an image without a title, or inside a sentence, in its paragraph", () => {
    expect(parsed("![A](a.png)\n").contentHtml).toBe(
      '<p><img src="/media/news/a.png" alt="A"></p>\n',
    );
    expect(parsed('See ![A](a.png "Caption") here.\n').contentHtml).toBe(
      '<p>See <img src="/media/news/a.png" alt="A" title="Caption"> here.</p>\n',
    );
  });

  it("does not let a figure take the place of the first paragraph as the lead", () => {
    const article = parsed('![A](a.png "Caption")\n\nThe news itself.\n', false);
    expect(article.title).toBe("The news itself.");
    expect(article.contentHtml).toContain("<figure>");
  });
});

describe("front matter `image` with caption and credit", () => {
  it("reads them from the object form and from image_* keys", () => {
    const object = parsed(
      "---\ntitle: T\nimage: { src: a.jpg, alt: The chamber, caption: The final vote, credit: 'Photo: AP' }\n---\nText.\n",
      false,
    );
    expect(object.image).toEqual({
      src: "news/a.jpg",
      alt: "The chamber",
      caption: "The final vote",
      credit: "Photo: AP",
    });
    const flat = parsed(
      "---\ntitle: T\nimage: a.jpg\nimage_caption: The final vote\nimage_credit: 'Foto: dpa'\n---\nText.\n",
      false,
    );
    expect(flat.image).toEqual({
      src: "news/a.jpg",
      caption: "The final vote",
      credit: "Foto: dpa",
    });
  });

  it("refuses a caption that is not text, naming the line", () => {
    const result = parseArticle(
      "news/story.md",
      new TextEncoder().encode(
        "---\ntitle: T\nimage: { src: a.jpg, caption: [1, 2] }\n---\nText.\n",
      ),
      { defaultLanguage: "en" },
    );
    expect(isParsed(result)).toBe(false);
    expect(result).toMatchObject({ line: 3, reason: expect.stringContaining("caption") });
  });
});
