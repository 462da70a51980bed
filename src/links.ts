import type { Article, ArticleImage } from "./article.ts";
import { absolute, paths } from "./urls.ts";

/** The absolute URLs every publisher uses for one article. */
export interface ArticleLinks {
  /** Stable across edits and renames: the ActivityPub object id and the feed GUID. */
  readonly id: URL;
  /** The HTML page. */
  readonly url: URL;
  readonly image?: URL;
}

export function articleLinks(article: Article, origin: URL): ArticleLinks {
  const links = {
    id: absolute(origin, paths.object(article.id)),
    url: absolute(origin, paths.article(article.slug)),
  };
  return article.image === undefined ? links : { ...links, image: imageUrl(article.image, origin) };
}

/** An absolute http(s) URL stays as it is; anything else is a path under `ARTICLES_DIR`. */
export function imageUrl(image: ArticleImage, origin: URL): URL {
  if (/^https?:\/\//i.test(image.src) && URL.canParse(image.src)) return new URL(image.src);
  return absolute(origin, paths.media(image.src.replace(/^(\.?\/)+/, "")));
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
