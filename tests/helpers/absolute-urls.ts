/**
 * Every absolute URL a served document names, to check that all of them are on `PUBLIC_URL`
 * (issue #12: `http://` collection pages and a foreign `Host` leaking into documents).
 */

/**
 * Vocabularies, schemas and relation types: third-party names, not links to this server.
 * A prefix matches a URL that starts with it.
 */
export const VOCABULARY_URLS: readonly string[] = [
  "https://www.w3.org/ns/activitystreams", // also #Public in to/cc
  "http://www.w3.org/", // XML namespaces (Atom, XHTML, SVG)
  "https://w3id.org/",
  "http://webfinger.net/rel/",
  "http://ostatus.org/schema/",
  "http://nodeinfo.diaspora.software/ns/schema/",
  "https://nodeinfo.diaspora.software/ns/schema/",
  "http://purl.org/",
  "https://jsonfeed.org/version/",
  "https://validator.w3.org/feed/docs/rss2.html", // RSS <docs>
  "https://ogp.me/ns",
  "http://ogp.me/ns",
  "https://schema.org",
  "http://schema.org",
  "http://joinmastodon.org/ns",
  "https://joinmastodon.org/ns",
];

/**
 * Absolute http(s) URLs in a JSON document: every string value that parses as one, except inside
 * `@context` (JSON-LD term definitions are vocabulary) and {@link VOCABULARY_URLS}.
 */
export function urlsInJson(document: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === "string") {
      if (isAbsoluteHttp(value)) found.push(value);
    } else if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) if (key !== "@context") walk(item);
    }
  };
  walk(document);
  return found.filter(isNotVocabulary);
}

/**
 * Absolute http(s) URLs in an HTML or XML document: every `http://` or `https://` anywhere in the
 * text (attributes, text nodes, inline JSON), plus every href/src/content/action attribute
 * resolved against `base` (so a protocol-relative `//elsewhere` counts), minus vocabulary.
 */
export function urlsInMarkup(text: string, base: URL): string[] {
  const found = [...text.matchAll(/https?:\/\/[^\s"'<>`\\]+/g)].map(([url]) => decode(url));
  for (const [, value] of text.matchAll(/\s(?:href|src|content|action)\s*=\s*"([^"]*)"/g)) {
    const raw = decode(value ?? "");
    // `content` also holds plain text (descriptions, titles): only URL-looking values count.
    if (!raw.startsWith("/") && !raw.includes("://")) continue;
    const url = URL.parse(raw, base.href);
    if (url !== null && (url.protocol === "http:" || url.protocol === "https:")) {
      found.push(url.href);
    }
  }
  return found.filter(isNotVocabulary);
}

/** The URLs of `urls` that are not on `origin` (scheme, host and port). */
export function offOrigin(urls: readonly string[], origin: URL): string[] {
  return urls.filter((url) => new URL(url).origin !== origin.origin);
}

function isAbsoluteHttp(value: string): boolean {
  if (!/^https?:\/\//i.test(value)) return false;
  return URL.canParse(value);
}

function isNotVocabulary(url: string): boolean {
  return !VOCABULARY_URLS.some((prefix) => url.startsWith(prefix));
}

/** Undoes the entities a URL may carry in markup. */
function decode(text: string): string {
  return text
    .replaceAll("&amp;", "&")
    .replaceAll("&#x2F;", "/")
    .replaceAll("&#47;", "/")
    .replaceAll("&quot;", '"');
}
