import { describe, expect, it } from "vitest";
import { scriptSafeJson } from "../../src/http/json-ld.ts";
import { renderNewsSitemap, renderSitemap } from "../../src/http/sitemap.ts";
import { makeArticle, origin } from "../helpers/article-fixture.ts";

const now = new Date("2024-05-03T08:00:00Z");
const hoursAgo = (n: number) => new Date(now.getTime() - n * 3_600_000);

describe("renderSitemap()", () => {
  it("lists the home page and each article, dated each entry by its last change", () => {
    const xml = renderSitemap(origin, [
      makeArticle({ slug: "a&b", updated: hoursAgo(1) }),
      makeArticle({ slug: "c", updated: hoursAgo(50) }),
    ]);
    expect(xml).toContain(
      "<url><loc>https://news.test/</loc><lastmod>2024-05-03T07:00:00.000Z</lastmod></url>",
    );
    expect(xml).toContain("<loc>https://news.test/articles/a%26b</loc>");
    expect(xml).toContain("<lastmod>2024-05-01T06:00:00.000Z</lastmod>");
    expect(xml).not.toContain("/sections/");
  });

  it("lists the section pages after the home page", () => {
    const xml = renderSitemap(origin, [makeArticle({ slug: "a" })], ["politik", "wirt schaft"]);
    expect(xml).toContain("<url><loc>https://news.test/sections/politik</loc></url>");
    expect(xml).toContain("<loc>https://news.test/sections/wirt%20schaft</loc>");
    expect(xml.indexOf("/sections/politik")).toBeLessThan(xml.indexOf("/articles/a"));
  });
});

describe("renderNewsSitemap()", () => {
  const site = { origin, title: "Herald <News>" };

  it("holds the articles of the last two days, with Google's language codes", () => {
    const xml = renderNewsSitemap(
      site,
      [
        makeArticle({ slug: "new", title: "A & B", language: "de-AT", published: hoursAgo(1) }),
        makeArticle({ slug: "edge", language: "zh-Hant", published: hoursAgo(48) }),
        makeArticle({ slug: "old", published: hoursAgo(49) }),
      ],
      now,
    );
    expect(xml).toContain("<news:name>Herald &lt;News&gt;</news:name>");
    expect(xml).toContain("<news:language>de</news:language>");
    expect(xml).toContain("<news:language>zh-tw</news:language>");
    expect(xml).toContain("<news:title>A &amp; B</news:title>");
    expect(xml).toContain(
      "<news:publication_date>2024-05-03T07:00:00.000Z</news:publication_date>",
    );
    expect(xml).not.toContain("/articles/old");
  });
});

describe("scriptSafeJson()", () => {
  it("leaves nothing that could end or comment out its script element, and parses back", () => {
    const value = { a: "</script><!-- & > \u2028\u2029" };
    const json = scriptSafeJson(value);
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual(value);
  });
});
