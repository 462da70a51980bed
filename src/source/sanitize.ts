import sanitizeHtml from "sanitize-html";

// What an article body may contain: text structure, links, images, tables, code.
// Nothing that runs (script, style, iframe, event handlers, javascript: URLs) survives.
const options: sanitizeHtml.IOptions = {
  allowedTags: [
    ...sanitizeHtml.defaults.allowedTags.filter((tag) => tag !== "style"),
    "img",
    "picture",
    "source",
    "del",
    "ins",
    "sup",
    "sub",
    "details",
    "summary",
  ],
  allowedAttributes: {
    a: ["href", "title", "hreflang"],
    img: ["src", "alt", "title", "width", "height", "loading"],
    source: ["srcset", "type", "media"],
    abbr: ["title"],
    blockquote: ["cite"],
    q: ["cite"],
    ol: ["start", "reversed", "type"],
    li: ["value"],
    td: ["colspan", "rowspan", "align"],
    th: ["colspan", "rowspan", "align", "scope"],
    time: ["datetime"],
    code: ["class"],
    "*": ["lang", "dir", "id"],
  },
  allowedClasses: { code: [/^language-[\w-]+$/] },
  allowedSchemes: ["http", "https", "mailto"],
  allowedSchemesByTag: { img: ["http", "https"] },
  allowProtocolRelative: false,
  disallowedTagsMode: "discard",
};

/** Makes rendered article HTML safe to embed in pages, feeds and ActivityPub posts. */
export function sanitizeArticleHtml(html: string): string {
  return sanitizeHtml(html, options);
}

// What a reply from another server may show on an article page: paragraphs, line breaks and
// links (mentions, hashtags) only, links marked as user content.
const remoteOptions: sanitizeHtml.IOptions = {
  allowedTags: ["p", "br", "a"],
  allowedAttributes: { a: ["href", "rel"] },
  allowedSchemes: ["http", "https"],
  allowProtocolRelative: false,
  disallowedTagsMode: "discard",
  transformTags: {
    a: (tagName, attribs) => ({
      tagName,
      attribs: { ...attribs, rel: "nofollow ugc noopener noreferrer" },
    }),
  },
};

/** Makes HTML from another server (a reply's content) safe to show on our pages. */
export function sanitizeRemoteHtml(html: string): string {
  return sanitizeHtml(html, remoteOptions).trim();
}
