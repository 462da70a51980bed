/**
 * What search engines read to find the articles: `sitemap.xml` (every published article),
 * `news-sitemap.xml` (Google News: the last two days) and `robots.txt`, which names both.
 * Pure renderers; `site.ts` keeps the built bodies.
 */
import type { Article } from "../article.ts";
import { escapeXml, xmlSafe } from "../feeds/xml.ts";
import type { PublishedLink } from "../store/store.ts";
import { absolute, paths } from "../urls.ts";

export const sitemapPaths = {
  sitemap: "/sitemap.xml",
  news: "/news-sitemap.xml",
  robots: "/robots.txt",
} as const;

/** One sitemap file holds at most 50,000 URLs (sitemaps.org); the newest articles win. */
export const SITEMAP_LIMIT = 49_999;
/** Google News reads at most 1,000 articles, of the last two days. */
export const NEWS_LIMIT = 1000;
const NEWS_AGE_MS = 2 * 24 * 60 * 60 * 1000;

/**
 * The home page, the section pages (`SECTIONS`, undated: each shows its own stories) and each
 * article, with when it last changed. Newest first.
 */
export function renderSitemap(
  origin: URL,
  articles: readonly PublishedLink[],
  sectionIds: readonly string[] = [],
): string {
  const newest = articles[0]?.updated;
  const entries = [
    url(absolute(origin, paths.home), newest),
    ...sectionIds.map((id) => url(absolute(origin, paths.section(id)), undefined)),
    ...articles.map((article) =>
      url(absolute(origin, paths.article(article.slug)), article.updated),
    ),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
${entries.join("\n")}
</urlset>
`;
}

/**
 * A Google News sitemap (https://developers.google.com/search/docs/crawling-indexing/sitemaps/news-sitemap):
 * the articles published in the two days before `now`.
 */
export function renderNewsSitemap(
  site: { readonly origin: URL; readonly title: string },
  articles: readonly Article[],
  now: Date,
): string {
  const recent = articles.filter((a) => now.getTime() - a.published.getTime() <= NEWS_AGE_MS);
  const entries = recent.map(
    (article) => `<url>
<loc>${escapeXml(absolute(site.origin, paths.article(article.slug)).href)}</loc>
<news:news>
<news:publication><news:name>${escapeXml(xmlSafe(site.title))}</news:name><news:language>${escapeXml(newsLanguage(article.language))}</news:language></news:publication>
<news:publication_date>${article.published.toISOString()}</news:publication_date>
<news:title>${escapeXml(xmlSafe(article.title))}</news:title>
</news:news>
</url>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
${entries.join("\n")}
</urlset>
`;
}

/** Everything may be crawled; the sitemaps say where the articles are. */
export function renderRobots(origin: URL): string {
  return `User-agent: *
Allow: /

Sitemap: ${absolute(origin, sitemapPaths.sitemap).href}
Sitemap: ${absolute(origin, sitemapPaths.news).href}
`;
}

function url(loc: URL, lastmod: Date | undefined): string {
  const modified = lastmod === undefined ? "" : `<lastmod>${lastmod.toISOString()}</lastmod>`;
  return `<url><loc>${escapeXml(loc.href)}</loc>${modified}</url>`;
}

/**
 * Google News wants an ISO 639 code: the primary language, except Chinese, which it tells
 * apart by script (`zh-cn`, `zh-tw`).
 */
function newsLanguage(tag: string): string {
  const [primary = "und", ...rest] = tag.toLowerCase().split("-");
  if (primary !== "zh") return primary;
  return rest.some((part) => part === "hant" || part === "tw" || part === "hk") ? "zh-tw" : "zh-cn";
}
