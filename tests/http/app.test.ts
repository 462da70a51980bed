import { copyFileSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { parseAtomFeed, parseJsonFeed, parseRssFeed } from "feedsmith";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.ts";
import { readIcon } from "../../src/http/favicon.ts";
import { createSite, type SiteOptions } from "../../src/http/site.ts";
import { runScan } from "../../src/pipeline.ts";
import { articlesDir, seedPath, sqliteStore, tempDir } from "../helpers/articles.ts";
import { serve } from "../helpers/serve.ts";

const seedTitle =
  "Wie die beiden Länder am Montag mitteilten, wird der Außenminister von Weißrussland diese Woche Nordkorea besuchen.";

/** Herald's web side on a real server on 127.0.0.1, over a real SQLite store and folder. */
async function startSite(extra: Pick<SiteOptions, "icon"> = {}) {
  const articles = articlesDir();
  copyFileSync(seedPath, articles.path("belarus-nordkorea.txt"));
  const { store } = sqliteStore();
  let clock = Date.parse("2026-03-01T12:00:00Z");
  const site = createSite(store, {
    page: {
      origin: new URL("http://news.test"),
      title: "Die Zeitung",
      description: "Nachrichten",
      language: "de",
      handle: "@news@news.test",
    },
    feed: {
      origin: new URL("http://news.test"),
      title: "Die Zeitung",
      author: "Redaktion",
    },
    limit: 50,
    now: () => new Date(clock),
    ...extra,
  });
  await store.subscribe(site.publisher.name);
  const scan = () =>
    runScan({
      articlesDir: articles.dir,
      parseOptions: { defaultLanguage: "en" },
      store,
      publishers: [site.publisher],
      now: () => {
        clock += 60_000;
        return new Date(clock);
      },
    });
  await scan();
  const base = await serve(createApp({ site, articlesDir: articles.dir }));
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers, redirect: "manual" });
  return { articles, scan, get, store, base };
}

async function feeds(get: (path: string) => Promise<Response>) {
  return {
    rss: parseRssFeed(await (await get("/feed.xml")).text()),
    atom: parseAtomFeed(await (await get("/atom.xml")).text()),
    json: parseJsonFeed(await (await get("/feed.json")).json()),
  };
}

describe("createApp() with the site", () => {
  it("serves the seed story in all three feeds, in full, with its derived title and language", async () => {
    const { get } = await startSite();
    const { rss, atom, json } = await feeds(get);
    expect(rss.items?.[0]?.title).toBe(seedTitle);
    expect(atom.entries?.[0]?.title?.value ?? atom.entries?.[0]?.title).toBe(seedTitle);
    expect(json.items?.[0]?.title).toBe(seedTitle);
    expect(rss.items?.[0]?.content?.encoded).toContain("„Dreieckskooperation“");
    expect(json.items?.[0]?.content_html?.match(/<p>/g)).toHaveLength(10);
    expect(json.language).toBe("de");
    const page = await get(new URL(json.items?.[0]?.url ?? "").pathname);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<html lang="de"');
    expect(html).toContain("Im Mittelpunkt der Reise");
  });

  it("lists articles on the home page with the three autodiscovery links and the handle", async () => {
    const { get } = await startSite();
    const response = await get("/");
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await response.text();
    for (const type of ["application/rss+xml", "application/atom+xml", "application/feed+json"]) {
      expect(html).toMatch(new RegExp(`<link rel="alternate" type="${type.replace("+", "\\+")}"`));
    }
    expect(html).toContain("@news@news.test");
    expect(html).toContain("Weißrussland");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("publishes a new file at the next scan, keeps its id on edit, and answers 410 once it is removed", async () => {
    const { get, scan, articles } = await startSite();
    articles.write(
      "budget.md",
      "---\ntitle: Budget & Co\ntags: [politik]\n---\nDer Haushalt steht.",
    );
    await scan();
    const first = await feeds(get);
    const id = first.json.items?.find((item) => item.title === "Budget & Co")?.id;
    expect(id).toBeDefined();
    expect(first.rss.items?.map((item) => item.title)).toContain("Budget & Co");
    expect(first.atom.entries).toHaveLength(2);

    articles.write(
      "budget.md",
      "---\ntitle: Budget & Co\ntags: [politik]\n---\nDer Haushalt steht, fast.",
    );
    await scan();
    const edited = await feeds(get);
    const item = edited.json.items?.find((i) => i.title === "Budget & Co");
    expect(item?.id).toBe(id);
    expect(item?.content_html).toContain("fast.");

    articles.remove("budget.md");
    await scan();
    const after = await feeds(get);
    expect(after.json.items?.map((i) => i.id)).not.toContain(id);
    expect(after.rss.items).toHaveLength(1);
    const page = await get("/articles/budget");
    expect(page.status).toBe(410);
    expect(await page.text()).toContain("<html");
  });

  it("shows markup in front matter as text, in pages and feeds", async () => {
    const { get, scan, articles } = await startSite();
    const title = '<script>alert("x")</script> & <img src=x onerror=alert(1)>';
    articles.write(
      "evil.md",
      `---\ntitle: '${title}'\nsummary: '<iframe src="https://evil.test">'\n---\nText.`,
    );
    await scan();
    const page = await (await get("/articles/evil")).text();
    expect(page).not.toContain("<script>alert");
    expect(page).not.toContain("<img src=x");
    expect(page).not.toContain("<iframe");
    expect(page).toContain("&lt;script&gt;");
    const { rss, json } = await feeds(get);
    expect(rss.items?.find((i) => i.title === title)).toBeDefined();
    expect(json.items?.find((i) => i.title === title)?.summary).toBe(
      '<iframe src="https://evil.test">',
    );
  });

  it("answers 304 for a matching ETag and for If-Modified-Since at or after the last change", async () => {
    const { get } = await startSite();
    const first = await get("/feed.xml");
    const etag = first.headers.get("etag") ?? "";
    const lastModified = first.headers.get("last-modified") ?? "";
    expect((await get("/feed.xml", { "If-None-Match": etag })).status).toBe(304);
    expect((await get("/feed.xml", { "If-Modified-Since": lastModified })).status).toBe(304);
    const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
    expect((await get("/feed.xml", { "If-Modified-Since": later })).status).toBe(304);
    const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await get("/feed.xml", { "If-Modified-Since": earlier })).status).toBe(200);
    expect(
      (await get("/", { "If-None-Match": (await get("/")).headers.get("etag") ?? "" })).status,
    ).toBe(304);
  });

  it("moves Last-Modified and the ETag when an article is removed", async () => {
    const { get, scan, articles } = await startSite();
    articles.write("a.md", "---\ntitle: A\ndate: 2020-01-01\n---\nOld news.");
    await scan();
    const before = await get("/feed.xml");
    articles.remove("a.md");
    await scan();
    const after = await get("/feed.xml", {
      "If-Modified-Since": before.headers.get("last-modified") ?? "",
    });
    expect(after.status).toBe(200);
    expect(after.headers.get("etag")).not.toBe(before.headers.get("etag"));
  });

  it("compresses with gzip and brotli when asked, to the same bytes", async () => {
    const { get, base } = await startSite();
    const plain = Buffer.from(await (await get("/feed.json")).arrayBuffer());
    const gz = await fetchRaw(base, "/feed.json", "gzip");
    const br = await fetchRaw(base, "/feed.json", "br");
    expect(gz.encoding).toBe("gzip");
    expect(br.encoding).toBe("br");
    expect(gunzipSync(gz.body).equals(plain)).toBe(true);
    expect(brotliDecompressSync(br.body).equals(plain)).toBe(true);
  });

  it("answers HEAD without a body", async () => {
    const { base } = await startSite();
    const response = await fetch(`${base}/atom.xml`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/atom+xml; charset=utf-8");
    expect(await response.text()).toBe("");
  });

  it("serves tag pages and their own feeds, and 404 for unknown tags and paths", async () => {
    const { get, scan, articles } = await startSite();
    articles.write("a.md", "---\ntitle: Wahl\ntags: [politik]\n---\nText.");
    await scan();
    const page = await get("/tags/politik");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('href="http://news.test/tags/politik/feed.xml"');
    const feed = parseRssFeed(await (await get("/tags/politik/feed.xml")).text());
    expect(feed.items?.map((i) => i.title)).toEqual(["Wahl"]);
    expect((await get("/tags/unbekannt")).status).toBe(404);
    expect((await get("/tags/unbekannt/feed.json")).status).toBe(404);
    expect((await get("/no/such/page")).status).toBe(404);
    expect((await get("/articles/no-such-article")).status).toBe(404);
  });

  it("serves images beside the articles, and nothing else from that folder", async () => {
    const { get, articles } = await startSite();
    articles.write("photos/pic.png", "PNG");
    articles.write(".secret.png", "hidden");
    const outside = join(tempDir(), "key.png");
    writeFileSync(outside, "secret");
    symlinkSync(outside, articles.path("link.png"));
    const image = await get("/media/photos/pic.png");
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/png");
    expect((await get("/media/belarus-nordkorea.txt")).status).toBe(404);
    expect((await get("/media/.secret.png")).status).not.toBe(200);
    expect((await get("/media/..%2f..%2fetc%2fpasswd.png")).status).toBe(404);
    expect((await get("/media/link.png")).status).toBe(404);
    expect((await get("/media/.secret.png")).status).toBe(404);
  });
});

/** fetch() decodes bodies itself; node:http shows the bytes as sent. */
function fetchRaw(base: string, path: string, encoding: string) {
  const url = new URL(path, base);
  return new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
    request(url, { headers: { "Accept-Encoding": encoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ encoding: res.headers["content-encoding"], body: Buffer.concat(chunks) }),
      );
    })
      .on("error", reject)
      .end();
  });
}

describe("createApp(): findability", () => {
  it("answers every spelling of a tag with one canonical URL, its feeds too", async () => {
    const { get, scan, articles } = await startSite();
    articles.write("a.md", "---\ntitle: Etat\ndate: 2026-01-01\ntags: [Haushalt]\n---\nText.");
    articles.write("b.md", "---\ntitle: Plan\ndate: 2026-01-02\ntags: [haushalt]\n---\nText.");
    articles.write(
      "c.md",
      "---\ntitle: Bau\ndate: 2026-01-03\ntags: [Haushalt, Übersicht]\n---\nT.",
    );
    await scan();
    // The spelling most of the tag's articles use is its name.
    for (const [asked, canonical] of [
      ["/tags/haushalt", "/tags/Haushalt"],
      ["/tags/HAUSHALT/feed.xml", "/tags/Haushalt/feed.xml"],
      ["/tags/haushalt/atom.xml", "/tags/Haushalt/atom.xml"],
      ["/tags/hausHalt/feed.json", "/tags/Haushalt/feed.json"],
      ["/tags/%C3%BCbersicht", "/tags/%C3%9Cbersicht"],
    ] as const) {
      const response = await get(asked);
      expect(response.status, asked).toBe(301);
      expect(response.headers.get("location"), asked).toBe(canonical);
    }
    const page = await get("/tags/Haushalt");
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const title of ["Etat", "Plan", "Bau"]) expect(html).toContain(title);
    expect(html).toContain('<link rel="canonical" href="http://news.test/tags/Haushalt">');
    const feed = parseRssFeed(await (await get("/tags/Haushalt/feed.xml")).text());
    expect(feed.items?.map((i) => i.title)).toEqual(["Bau", "Plan", "Etat"]);
    expect((await get("/tags/unbekannt")).status).toBe(404);
  });

  it("lists every published article in sitemap.xml, the last two days in news-sitemap.xml, both in robots.txt", async () => {
    const { get, scan, articles } = await startSite();
    articles.write("alt.md", "---\ntitle: Alt & neu\ndate: 2026-02-01\n---\nText.");
    articles.write("entwurf.md", "---\ntitle: Entwurf\ndraft: true\n---\nText.");
    await scan();
    const sitemap = await get("/sitemap.xml");
    expect(sitemap.status).toBe(200);
    expect(sitemap.headers.get("content-type")).toBe("application/xml; charset=utf-8");
    const xml = await sitemap.text();
    const locs = [...xml.matchAll(/<loc>([^<]+)<\/loc><lastmod>([^<]+)<\/lastmod>/g)];
    expect(locs.map((m) => m[1])).toEqual([
      "http://news.test/",
      "http://news.test/articles/belarus-nordkorea",
      "http://news.test/articles/alt",
    ]);
    expect(locs[2]?.[2]).toBe("2026-02-01T00:00:00.000Z");

    const news = await (await get("/news-sitemap.xml")).text();
    expect(news).toContain('xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"');
    expect(news).toContain("<loc>http://news.test/articles/belarus-nordkorea</loc>");
    expect(news).toContain("<news:name>Die Zeitung</news:name><news:language>de</news:language>");
    expect(news).toContain(`<news:title>${seedTitle}</news:title>`);
    expect(news).not.toContain("/articles/alt"); // a month old

    const robots = await get("/robots.txt");
    expect(robots.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const lines = (await robots.text()).split("\n");
    expect(lines).toContain("Sitemap: http://news.test/sitemap.xml");
    expect(lines).toContain("Sitemap: http://news.test/news-sitemap.xml");
  });

  it("serves a favicon that every page links, and points /favicon.ico at it", async () => {
    const { get } = await startSite();
    const icon = await get("/favicon.svg");
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
    expect(await icon.text()).toContain("<svg");
    const legacy = await get("/favicon.ico");
    expect(legacy.status).toBe(301);
    expect(legacy.headers.get("location")).toBe("/favicon.svg");
    for (const path of ["/", "/articles/belarus-nordkorea", "/no/such/page"]) {
      expect(await (await get(path)).text(), path).toContain(
        '<link rel="icon" href="/favicon.svg" type="image/svg+xml">',
      );
    }
  });

  it("serves SITE_ICON as it is, at /favicon.ico when it is an .ico file", async () => {
    const file = join(tempDir(), "icon.ico");
    writeFileSync(file, new Uint8Array([0, 0, 1, 0, 1, 0]));
    const { get } = await startSite({ icon: await readIcon(file) });
    const icon = await get("/favicon.ico");
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toBe("image/x-icon");
    expect(new Uint8Array(await icon.arrayBuffer())).toEqual(new Uint8Array([0, 0, 1, 0, 1, 0]));
    expect(await (await get("/")).text()).toContain(
      '<link rel="icon" href="/favicon.ico" type="image/x-icon">',
    );
    expect((await get("/favicon.svg")).status).toBe(404);
  });

  it("names one canonical URL on every page, and lets the article text hyphenate in its language", async () => {
    const { get, scan, articles } = await startSite();
    articles.write("a.md", "---\ntitle: Wahl\nlanguage: en\ntags: [Politik]\n---\nText.");
    await scan();
    for (const [path, canonical] of [
      ["/", "http://news.test/"],
      ["/articles/belarus-nordkorea", "http://news.test/articles/belarus-nordkorea"],
      ["/articles/a", "http://news.test/articles/a"],
      ["/tags/Politik", "http://news.test/tags/Politik"],
    ] as const) {
      const links = (await (await get(path)).text()).match(/<link rel="canonical"[^>]*>/g);
      expect(links, path).toEqual([`<link rel="canonical" href="${canonical}">`]);
    }
    expect(await (await get("/articles/a")).text()).toContain('<html lang="en"');
    expect(await (await get("/")).text()).toContain('<article class="card" lang="en">');
    expect(await (await get("/style.css")).text()).toMatch(/\.content[^{]*\{[^}]*hyphens: auto/);
  });

  it("describes an article page as a schema.org NewsArticle, safe against </script> in its text", async () => {
    const { get, scan, articles } = await startSite();
    articles.write(
      "a.md",
      [
        "---",
        'title: "Ende </script><script>alert(1)</script> <!-- & Ende"',
        "date: 2026-02-01T08:00:00Z",
        "updated: 2026-02-02T09:00:00Z",
        "author: Anna Berg",
        "language: en",
        "image: https://images.test/a.jpg",
        "---",
        "Text.",
      ].join("\n"),
    );
    await scan();
    const page = await (await get("/articles/a")).text();
    const scripts = [...page.matchAll(/<script type="application\/ld\+json">(.*?)<\/script>/gs)];
    expect(scripts).toHaveLength(1);
    expect(page).not.toContain("<script>alert");
    const data = JSON.parse(scripts[0]?.[1] ?? "");
    expect(data).toMatchObject({
      "@context": "https://schema.org",
      "@type": "NewsArticle",
      headline: "Ende </script><script>alert(1)</script> <!-- & Ende",
      datePublished: "2026-02-01T08:00:00.000Z",
      dateModified: "2026-02-02T09:00:00.000Z",
      author: { "@type": "Person", name: "Anna Berg" },
      image: ["https://images.test/a.jpg"],
      inLanguage: "en",
      mainEntityOfPage: { "@type": "WebPage", "@id": "http://news.test/articles/a" },
    });
    const seed = await (await get("/articles/belarus-nordkorea")).text();
    const seedData = JSON.parse(
      /<script type="application\/ld\+json">(.*?)<\/script>/s.exec(seed)?.[1] ?? "",
    );
    expect(seedData).toMatchObject({
      headline: seedTitle,
      inLanguage: "de",
      author: { "@type": "Organization", name: "Die Zeitung" },
    });
  });
});
