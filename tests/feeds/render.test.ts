import { XMLValidator } from "fast-xml-parser";
import { parseAtomFeed, parseJsonFeed, parseRssFeed } from "feedsmith";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Article } from "../../src/article.ts";
import { type FeedSite, feedSiteFor, renderFeeds } from "../../src/feeds/render.ts";
import { EDITED, makeArticle, origin, PUBLISHED } from "../helpers/article-fixture.ts";

const siteBase = {
  origin,
  title: "Herald News",
  description: "News from the test suite.",
  language: "en",
  author: "The Desk",
};
const homeSite: FeedSite = feedSiteFor(siteBase);

/** Parses all three formats with feedsmith (not our code) after checking the XML is well-formed. */
function parseAll(articles: readonly Article[], site: FeedSite = homeSite) {
  const rendered = renderFeeds(articles, site);
  expect(XMLValidator.validate(rendered.rss)).toBe(true);
  expect(XMLValidator.validate(rendered.atom)).toBe(true);
  const json: unknown = JSON.parse(rendered.json);
  return {
    rendered,
    rss: parseRssFeed(rendered.rss),
    atom: parseAtomFeed(rendered.atom),
    json: parseJsonFeed(json),
    rawJson: json as Record<string, unknown>,
  };
}

const tricky = [
  "Tom & Jerry",
  "a < b and c > d",
  'He said "hello"',
  "„Zitat“ und ‚halbes‘",
  "Already &amp; escaped",
  "<b>not bold</b>",
  "CDATA ]]> end",
];

describe("renderFeeds()", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("puts the full content and the summary in each format", () => {
    const article = makeArticle({
      contentHtml: "<p>Full <em>body</em> text.</p><p>Second paragraph.</p>",
      summary: "Only the summary.",
    });
    const { rss, atom, json } = parseAll([article]);
    expect(rss.items?.[0]?.content?.encoded).toBe(article.contentHtml);
    expect(rss.items?.[0]?.description).toBe("Only the summary.");
    expect(atom.entries?.[0]?.content).toEqual({ value: article.contentHtml, type: "html" });
    expect(atom.entries?.[0]?.summary?.value).toBe("Only the summary.");
    expect(json.items?.[0]?.content_html).toBe(article.contentHtml);
    expect(json.items?.[0]?.summary).toBe("Only the summary.");
  });

  it('keeps titles with &, <, " and „…“ exactly as written in every format', () => {
    const articles = tricky.map((title, index) =>
      makeArticle({
        id: `t${index}`,
        slug: `t${index}`,
        title,
        published: new Date(Date.UTC(2024, 0, 31 - index)),
      }),
    );
    const { rss, atom, json, rendered } = parseAll(articles);
    expect(rss.items?.map((item) => item.title)).toEqual(tricky);
    expect(atom.entries?.map((entry) => entry.title?.value)).toEqual(tricky);
    // type="text": readers must not decode the title a second time as HTML.
    expect(atom.entries?.map((entry) => entry.title?.type)).toEqual(tricky.map(() => "text"));
    expect(json.items?.map((item) => item.title)).toEqual(tricky);
    expect(rendered.atom).not.toContain('type="html"><![CDATA[Tom');
  });

  it("keeps German text with umlauts and ß intact, escaped once", () => {
    const article = makeArticle({
      title: "Außenminister reist nach Pjöngjang: „Gespräche über Zusammenarbeit“",
      summary: "Weißrussland & Nordkorea wollen Beziehungen stärken.",
      contentHtml: "<p>Größere Maßnahmen &amp; süße Grüße.</p>",
      language: "de",
    });
    const { rss, atom, json, rendered } = parseAll([article]);
    for (const body of [rendered.rss, rendered.atom, rendered.json]) {
      expect(body).toContain("Außenminister reist nach Pjöngjang");
      expect(body).not.toContain("&amp;amp;");
      expect(body).not.toMatch(/&#\d+;|&[a-z]+uml;|&szlig;/);
    }
    expect(rss.items?.[0]?.title).toBe(article.title);
    expect(atom.entries?.[0]?.title?.value).toBe(article.title);
    expect(json.items?.[0]?.title).toBe(article.title);
    // RSS and Atom carry the plain-text summary as HTML: escaped exactly once.
    expect(rss.items?.[0]?.description).toBe(
      "Weißrussland &amp; Nordkorea wollen Beziehungen stärken.",
    );
    expect(atom.entries?.[0]?.summary).toEqual({
      value: "Weißrussland &amp; Nordkorea wollen Beziehungen stärken.",
      type: "html",
    });
    expect(json.items?.[0]?.summary).toBe(article.summary);
    expect(rss.items?.[0]?.content?.encoded).toBe(article.contentHtml);
    expect(atom.entries?.[0]?.content?.value).toBe(article.contentHtml);
    expect(json.items?.[0]?.content_html).toBe(article.contentHtml);
  });

  it("makes the article's own links and images absolute, so readers show them off the site", () => {
    const article = makeArticle({
      contentHtml: '<p><img src="/media/cat.jpg" alt="Cat" /> <a href="/articles/x">x</a></p>',
    });
    const { rss, atom, json } = parseAll([article]);
    const absolute = `<img src="${origin.origin}/media/cat.jpg?w=1600"`;
    expect(rss.items?.[0]?.content?.encoded).toContain(absolute);
    expect(JSON.stringify(atom.entries?.[0]?.content)).toContain(absolute.replaceAll('"', '\\"'));
    expect(json.items?.[0]?.content_html).toContain(absolute);
    expect(json.items?.[0]?.content_html).toContain(`<a href="${origin.origin}/articles/x">`);
  });

  it("keeps ids and GUIDs stable across an edit", () => {
    const original = makeArticle({ id: "stable-id", slug: "old-slug", title: "Before" });
    const edited = makeArticle({
      id: "stable-id",
      slug: "new-slug",
      title: "After",
      contentHtml: "<p>Rewritten.</p>",
      updated: EDITED,
    });
    const before = parseAll([original]);
    const after = parseAll([edited]);
    const objectUrl = "https://news.test/objects/stable-id";
    for (const feed of [before, after]) {
      expect(feed.rss.items?.[0]?.guid).toEqual({ value: objectUrl, isPermaLink: false });
      expect(feed.atom.entries?.[0]?.id).toBe(objectUrl);
      expect(feed.json.items?.[0]?.id).toBe(objectUrl);
    }
    expect(after.rss.items?.[0]?.content?.encoded).toBe("<p>Rewritten.</p>");
    expect(after.rss.items?.[0]?.link).toBe("https://news.test/articles/new-slug");
    expect(after.atom.entries?.[0]?.updated).toBe(EDITED.toISOString());
    expect(after.atom.entries?.[0]?.published).toBe(PUBLISHED.toISOString());
    expect(after.json.items?.[0]?.date_modified).toBe(EDITED.toISOString());
  });

  it("lists only the given articles, so a removed one is absent", () => {
    const kept = makeArticle({ id: "kept", slug: "kept" });
    const removed = makeArticle({ id: "removed", slug: "removed", title: "Removed one" });
    const before = parseAll([kept, removed]);
    expect(before.rss.items).toHaveLength(2);
    const after = parseAll([kept]);
    expect(after.rss.items?.map((item) => item.guid?.value)).toEqual([
      "https://news.test/objects/kept",
    ]);
    expect(after.atom.entries?.map((entry) => entry.id)).toEqual([
      "https://news.test/objects/kept",
    ]);
    expect(after.json.items?.map((item) => item.id)).toEqual(["https://news.test/objects/kept"]);
    expect(after.rendered.rss + after.rendered.atom + after.rendered.json).not.toContain("removed");
  });

  it("orders items newest first whatever the input order", () => {
    const days = [3, 1, 4, 2];
    const articles = days.map((day) =>
      makeArticle({ id: `d${day}`, slug: `d${day}`, published: new Date(Date.UTC(2024, 4, day)) }),
    );
    const expected = ["d4", "d3", "d2", "d1"].map((id) => `https://news.test/objects/${id}`);
    const { rss, atom, json } = parseAll(articles);
    expect(rss.items?.map((item) => item.guid?.value)).toEqual(expected);
    expect(atom.entries?.map((entry) => entry.id)).toEqual(expected);
    expect(json.items?.map((item) => item.id)).toEqual(expected);
  });

  it("dates the feed by its newest article, never by the time of rendering", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const unedited = (id: string, date: string) =>
      makeArticle({ id, published: new Date(date), updated: new Date(date) });
    const articles = [
      unedited("old", "2024-01-01T00:00:00Z"),
      makeArticle({
        id: "edited",
        published: new Date("2024-02-01T00:00:00Z"),
        updated: new Date("2024-06-15T12:30:00Z"),
      }),
      unedited("new", "2024-03-01T00:00:00Z"),
    ];
    const first = parseAll(articles);
    expect(first.rss.lastBuildDate).toBe("Sat, 15 Jun 2024 12:30:00 GMT");
    expect(first.atom.updated).toBe("2024-06-15T12:30:00.000Z");
    expect(first.rendered.updated).toEqual(new Date("2024-06-15T12:30:00Z"));
    vi.setSystemTime(new Date("2031-06-01T00:00:00Z"));
    const later = renderFeeds(articles, homeSite);
    expect(later).toEqual(first.rendered);
  });

  it("writes JSON Feed 1.1 with language and authors", () => {
    const article = makeArticle({ language: "de", author: "Anna Autorin", tags: ["Politik"] });
    const { rawJson, json } = parseAll([article]);
    expect(rawJson.version).toBe("https://jsonfeed.org/version/1.1");
    expect(json.language).toBe("en");
    expect(json.authors).toEqual([{ name: "The Desk" }]);
    expect(json.home_page_url).toBe("https://news.test/");
    expect(json.items?.[0]).toMatchObject({
      url: `https://news.test/articles/${article.slug}`,
      language: "de",
      authors: [{ name: "Anna Autorin" }],
      tags: ["Politik"],
      date_published: PUBLISHED.toISOString(),
    });
  });

  it("gives RSS, Atom and JSON Feed separate self links", () => {
    const home = parseAll([makeArticle()]);
    expect(home.rss.atom?.links).toContainEqual({
      href: "https://news.test/feed.xml",
      rel: "self",
      type: "application/rss+xml",
    });
    expect(home.atom.links).toContainEqual({
      href: "https://news.test/atom.xml",
      rel: "self",
      type: "application/atom+xml",
    });
    expect(home.atom.id).toBe("https://news.test/atom.xml");
    expect(home.json.feed_url).toBe("https://news.test/feed.json");

    const tag = parseAll([makeArticle({ tags: ["a b"] })], feedSiteFor(siteBase, "a b"));
    expect(tag.rss.atom?.links?.find((link) => link.rel === "self")?.href).toBe(
      "https://news.test/tags/a%20b/feed.xml",
    );
    expect(tag.atom.links?.find((link) => link.rel === "self")?.href).toBe(
      "https://news.test/tags/a%20b/atom.xml",
    );
    expect(tag.json.feed_url).toBe("https://news.test/tags/a%20b/feed.json");
    expect(tag.rss.link).toBe("https://news.test/tags/a%20b");
    expect(tag.rss.title).toBe("Herald News: a b");
  });

  it("links a WebSub hub from RSS, Atom and JSON Feed only when there is one", () => {
    const hub = new URL("https://hub.test/?mode=publish&x=1");
    const withHub = parseAll([makeArticle()], feedSiteFor({ ...siteBase, hub }));
    expect(withHub.rss.atom?.links).toContainEqual({ href: hub.href, rel: "hub" });
    expect(withHub.atom.links).toContainEqual({ href: hub.href, rel: "hub" });
    expect(withHub.json.hubs).toEqual([{ type: "WebSub", url: hub.href }]);
    const without = parseAll([makeArticle()]);
    expect(without.rss.atom?.links?.some((link) => link.rel === "hub")).toBe(false);
    expect(without.atom.links?.some((link) => link.rel === "hub")).toBe(false);
    expect(without.json.hubs).toBeUndefined();
  });

  it("writes tags, author, language and image of each item", () => {
    const article = makeArticle({
      language: "de",
      tags: ["Politik", "R&D <lab>"],
      author: "Anna",
      image: { src: "images/photo.JPG", alt: "A photo" },
    });
    const { rss, atom, json } = parseAll([article]);
    const item = rss.items?.[0];
    expect(item?.categories).toEqual([{ name: "Politik" }, { name: "R&D <lab>" }]);
    expect(item?.dc?.creators).toEqual(["Anna"]);
    expect(item?.dc?.languages).toEqual(["de"]);
    expect(item?.enclosures).toEqual([
      { url: "https://news.test/media/images/photo.JPG?w=1600", length: 0, type: "image/jpeg" },
    ]);
    const entry = atom.entries?.[0];
    expect(entry?.categories).toEqual([{ term: "Politik" }, { term: "R&D <lab>" }]);
    expect(entry?.authors).toEqual([{ name: "Anna" }]);
    expect(entry?.xml?.lang).toBe("de");
    expect(entry?.links).toContainEqual({
      href: "https://news.test/media/images/photo.JPG?w=1600",
      rel: "enclosure",
      type: "image/jpeg",
    });
    expect(entry?.links).toContainEqual({ href: `https://news.test/articles/${article.slug}` });
    expect(atom.xml?.lang).toBe("en");
    expect(json.items?.[0]?.image).toBe("https://news.test/media/images/photo.JPG?w=1600");
  });

  it("uses the site author for articles without one and keeps absolute image URLs", () => {
    const article = makeArticle({ image: { src: "https://cdn.test/pic.webp?size=2&q=1" } });
    const { rss, atom, json } = parseAll([article]);
    expect(rss.items?.[0]?.dc?.creators).toEqual(["The Desk"]);
    expect(atom.entries?.[0]?.authors).toEqual([{ name: "The Desk" }]);
    expect(json.items?.[0]?.authors).toEqual([{ name: "The Desk" }]);
    expect(rss.items?.[0]?.enclosures?.[0]).toEqual({
      url: "https://cdn.test/pic.webp?size=2&q=1",
      length: 0,
      type: "image/webp",
    });
  });

  it("takes the first image in the text as the item's image when front matter has none", () => {
    const { image: _, ...article } = makeArticle({
      contentHtml:
        '<p>Text.</p>\n<figure><img src="/media/news/vote.jpg" alt="The vote"><figcaption>The final vote</figcaption></figure>\n<p><img src="/media/news/second.png" alt="Second"></p>',
    });
    const { rss, atom, json } = parseAll([article]);
    const shared = "https://news.test/media/news/vote.jpg?w=1600";
    expect(rss.items?.[0]?.enclosures).toEqual([{ url: shared, length: 0, type: "image/jpeg" }]);
    expect(atom.entries?.[0]?.links).toContainEqual({
      href: shared,
      rel: "enclosure",
      type: "image/jpeg",
    });
    expect(json.items?.[0]?.image).toBe(shared);
    // The figure and its caption reach feed readers as written, with absolute URLs.
    expect(json.items?.[0]?.content_html).toContain(
      `<figure><img src="${shared}" alt="The vote"><figcaption>The final vote</figcaption></figure>`,
    );
    const { image: __, ...imageless } = makeArticle();
    expect(parseAll([imageless]).json.items?.[0]?.image).toBeUndefined();
  });

  it("renders valid, stable feeds with no articles", () => {
    const { rss, atom, rawJson, rendered } = parseAll([]);
    expect(rss.items ?? []).toEqual([]);
    expect(atom.entries ?? []).toEqual([]);
    expect(rawJson.items).toEqual([]);
    expect(rendered.updated).toEqual(new Date(0));
    expect(renderFeeds([], homeSite)).toEqual(rendered);
  });

  it("drops characters XML cannot carry instead of writing a broken document", () => {
    const article = makeArticle({
      title: "Bell\u0007 and NUL\u0000",
      contentHtml: "<p>x\u000by</p>",
    });
    const { rss, atom } = parseAll([article]);
    expect(rss.items?.[0]?.title).toBe("Bell and NUL");
    expect(atom.entries?.[0]?.content?.value).toBe("<p>xy</p>");
  });
});
