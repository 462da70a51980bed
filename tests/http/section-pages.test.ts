import { describe, expect, it } from "vitest";
import type { PageSite } from "../../src/http/pages.ts";
import {
  changedSectionFeeds,
  renderSectionPage,
  type SectionView,
} from "../../src/http/section-pages.ts";
import { makeArticle, origin } from "../helpers/article-fixture.ts";

const site: PageSite = { origin, title: "Tagblatt", language: "de", handle: "@news@news.test" };
const politik: SectionView = {
  id: "politik",
  name: "Politik & <Wahl>",
  tags: ["politik", "Wahl"],
  handle: "@politik@news.test",
  actor: new URL("/users/politik", origin),
};

describe("renderSectionPage()", () => {
  it("shows the section's stories, a follow box for its account and its feeds, escaped", () => {
    const page = renderSectionPage(site, politik, [makeArticle({ title: "Die Wahl" })]);
    expect(page).toContain("<h1>Politik &amp; &lt;Wahl&gt;</h1>");
    expect(page).toContain('<code class="handle">@politik@news.test</code>');
    expect(page).toContain('<input type="hidden" name="section" value="politik">');
    expect(page).toContain(
      `<link rel="alternate" type="application/rss+xml" title="Tagblatt: Politik &amp; &lt;Wahl&gt; (RSS)" href="${origin.origin}/sections/politik/feed.xml">`,
    );
    expect(page).toContain(`href="${origin.origin}/sections/politik/feed.json"`);
    expect(page).toContain(
      `<link rel="alternate" type="application/activity+json" href="${origin.origin}/users/politik">`,
    );
    expect(page).toContain(`<a href="${origin.origin}/tags/Wahl" rel="tag">#Wahl</a>`);
    expect(page).toContain("Die Wahl");
  });
});

describe("changedSectionFeeds()", () => {
  it("names the feeds of the sections whose tags changed, whatever their case", () => {
    expect(changedSectionFeeds([politik], ["WAHL"])).toEqual([
      "/sections/politik/feed.xml",
      "/sections/politik/atom.xml",
      "/sections/politik/feed.json",
    ]);
    expect(changedSectionFeeds([politik], ["wetter"])).toEqual([]);
  });
});
