import type { Article, ArticleImage } from "./article.ts";
import { unescapeHtml } from "./escape.ts";
import { absolute, paths } from "./urls.ts";

/** The absolute URLs every publisher uses for one article. */
export interface ArticleLinks {
  /** Stable across edits and renames: the ActivityPub object id and the feed GUID. */
  readonly id: URL;
  /** The HTML page. */
  readonly url: URL;
  /**
   * The card image (link cards, feeds, JSON-LD, the home page): the front-matter image, else
   * the first image in the text (issue #15.3), sized to share.
   */
  readonly image?: URL;
  /** The card image's alt text, if it has one. */
  readonly imageAlt?: string;
}

export function articleLinks(article: Article, origin: URL): ArticleLinks {
  const links = {
    id: absolute(origin, paths.object(article.id)),
    url: absolute(origin, paths.article(article.slug)),
  };
  const alt = article.image?.alt?.trim();
  const card =
    article.image === undefined
      ? inlineImages(article.contentHtml, origin)[0]
      : { url: imageUrl(article.image, origin), ...(alt ? { alt } : {}) };
  if (card === undefined) return links;
  return { ...links, image: card.url, ...(card.alt === undefined ? {} : { imageAlt: card.alt }) };
}

/**
 * An absolute http(s) URL stays as it is; anything else is a path under `ARTICLES_DIR`,
 * served at `SHARE_WIDTH` pixels at most (`sharedImage()`).
 */
export function imageUrl(image: ArticleImage, origin: URL): URL {
  if (/^https?:\/\//i.test(image.src) && URL.canParse(image.src)) return new URL(image.src);
  return sharedImage(absolute(origin, paths.media(image.src.replace(/^(\.?\/)+/, ""))), origin);
}

/** How wide (pixels) the images that feeds, link cards and fediverse posts show may be. */
export const SHARE_WIDTH = 1600;

/** The file extensions of images the server can make smaller copies of. */
export const RESIZABLE_IMAGE = /\.(jpe?g|png|webp|avif)$/i;

/**
 * One of our own raster images (`/media/…`) as a copy at most `SHARE_WIDTH` wide: a photo
 * straight from a camera can weigh 10 MB. Other URLs are returned as they are.
 */
export function sharedImage(url: URL, origin: URL): URL {
  if (url.origin !== origin.origin || !url.pathname.startsWith(paths.media(""))) return url;
  if (!RESIZABLE_IMAGE.test(url.pathname) || url.search !== "") return url;
  const sized = new URL(url);
  sized.searchParams.set("w", String(SHARE_WIDTH));
  return sized;
}

const imageTypes: Readonly<Record<string, string>> = {
  avif: "image/avif",
  gif: "image/gif",
  jpeg: "image/jpeg",
  jpg: "image/jpeg",
  png: "image/png",
  svg: "image/svg+xml",
  webp: "image/webp",
};

/** The media type of an image, from its file extension, if it is a known one. */
export function imageType(url: URL): string | undefined {
  const extension = /\.([a-z0-9]+)$/i.exec(url.pathname)?.[1]?.toLowerCase();
  return extension === undefined ? undefined : imageTypes[extension];
}

/**
 * Makes the root-relative links and image sources of an article's HTML (`/media/…`,
 * `/articles/…`) absolute: feed readers and fediverse servers show them away from the site.
 * Our own images become copies sized to share (`sharedImage()`).
 */
export function absoluteUrls(html: string, origin: URL): string {
  return html
    .replace(/ (src|href)="\/(?!\/)/g, (_, attribute: string) => {
      return ` ${attribute}="${origin.origin}/`;
    })
    .replace(/(<img\b[^>]* src=")([^"]+)"/g, (whole, head: string, src: string) => {
      const url = URL.parse(unescapeHtml(src));
      if (url === null) return whole;
      const sized = sharedImage(url, origin);
      return sized === url ? whole : `${head}${sized.href.replace(/&/g, "&amp;")}"`;
    });
}

/** The images in an article's HTML, with their alt text, in order; absolute URLs, sized to share. */
export function inlineImages(html: string, origin: URL): { url: URL; alt?: string }[] {
  const images: { url: URL; alt?: string }[] = [];
  for (const [tag] of html.matchAll(/<img\b[^>]*>/g)) {
    const src = /\ssrc="([^"]+)"/.exec(tag)?.[1];
    const url = src === undefined ? null : URL.parse(unescapeHtml(src), origin.href);
    if (url === null || !/^https?:$/.test(url.protocol)) continue;
    const alt = unescapeHtml(/\salt="([^"]*)"/.exec(tag)?.[1] ?? "").trim();
    const sized = sharedImage(url, origin);
    images.push(alt === "" ? { url: sized } : { url: sized, alt });
  }
  return images;
}
