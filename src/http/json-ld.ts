/**
 * schema.org `NewsArticle` for an article page, as JSON-LD: what search engines read for
 * headline, dates, author and image (https://developers.google.com/search/docs/appearance/structured-data/article).
 */
import type { Article } from "../article.ts";
import { articleLinks } from "../links.ts";
import { absolute, paths } from "../urls.ts";
import { type Html, raw } from "./html.ts";

export function articleJsonLd(
  site: { readonly origin: URL; readonly title: string },
  article: Article,
): Html {
  const links = articleLinks(article, site.origin);
  const publisher = {
    "@type": "Organization",
    name: site.title,
    url: absolute(site.origin, paths.home).href,
  };
  const data = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    headline: article.title,
    description: article.summary,
    datePublished: article.published.toISOString(),
    dateModified: article.updated.toISOString(),
    inLanguage: article.language,
    mainEntityOfPage: { "@type": "WebPage", "@id": links.url.href },
    url: links.url.href,
    author: article.author === undefined ? publisher : { "@type": "Person", name: article.author },
    publisher,
    ...(links.image === undefined ? {} : { image: [links.image.href] }),
    ...(article.tags.length === 0 ? {} : { keywords: article.tags }),
  };
  return raw(`<script type="application/ld+json">${scriptSafeJson(data)}</script>\n`);
}

/**
 * JSON that cannot end its `<script>` element early or open a comment there: `<` (so no
 * `</script>` or `<!--`), `>` and `&` become JSON escapes, which parse to the same string. So do
 * U+2028 and U+2029, which older JavaScript parsers took for line ends.
 */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
