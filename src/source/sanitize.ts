import sanitizeHtml from "sanitize-html";
import type { RemovedElement } from "../article.ts";

// The elements that embed something, and the attribute naming it. `<source src>` is a video's
// or an audio's; a picture's `<source srcset>` has no `src` and stays.
const embeds: Readonly<Record<string, string>> = {
  iframe: "src",
  video: "src",
  audio: "src",
  source: "src",
  embed: "src",
  object: "data",
};

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
    img: ["src", "alt", "title", "width", "height", "loading", "decoding"],
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
  // `figures.ts` marks a caption's credit.
  allowedClasses: { code: [/^language-[\w-]+$/], small: ["credit"] },
  allowedSchemes: ["http", "https", "mailto"],
  allowedSchemesByTag: { img: ["http", "https"] },
  allowProtocolRelative: false,
  disallowedTagsMode: "discard",
  // An embed cannot play here, but its reader may still want it: it becomes a link to its
  // source (issue #15.4). Only http(s) sources; anything else is simply removed.
  transformTags: Object.fromEntries(
    Object.entries(embeds).map(([tag, attribute]) => [
      tag,
      (tagName: string, attribs: sanitizeHtml.Attributes) => {
        const source = embedSource(attribs[attribute]);
        return source
          ? { tagName: "a", attribs: { href: source }, text: source }
          : { tagName, attribs };
      },
    ]),
  ),
};

function embedSource(value: string | undefined): string | undefined {
  const url = URL.parse(value?.trim() ?? "");
  return url && (url.protocol === "https:" || url.protocol === "http:") ? url.href : undefined;
}

/**
 * Makes rendered article HTML safe to embed in pages, feeds and ActivityPub posts, and says
 * what it removed: nothing an author wrote vanishes without a word (issue #15.4).
 */
export function sanitizeArticleHtml(html: string): {
  readonly html: string;
  readonly removed: readonly Omit<RemovedElement, "line">[];
} {
  const removed: Omit<RemovedElement, "line">[] = [];
  const allowed = new Set(options.allowedTags === false ? [] : options.allowedTags);
  const clean = sanitizeHtml(html, {
    ...options,
    onOpenTag: (name, attribs) => {
      const attribute = embeds[name] ?? "src";
      const source = attribs[attribute];
      const linked = name in embeds && embedSource(source) !== undefined;
      if (allowed.has(name) && !linked) return;
      const shown = source === undefined ? "" : ` ${attribute}="${source}"`;
      removed.push({ element: `<${name}${shown}>`, linked });
    },
  });
  // A removed element between two words leaves both their spaces behind. Outside <pre>,
  // where spaces are not shown as written anyway, one is enough.
  const tidy =
    removed.length === 0
      ? clean
      : clean
          .split(/(<pre[\s>][\s\S]*?<\/pre>)/)
          .map((part, i) => (i % 2 === 1 ? part : part.replace(/ {2,}/g, " ")))
          .join("");
  return { html: tidy, removed };
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
