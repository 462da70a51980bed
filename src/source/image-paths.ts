/** Where the images an article names are: paths inside `ARTICLES_DIR`, served at `/media/…`. */
import { posix } from "node:path";
import { paths } from "../urls.ts";

/**
 * Points an inline image with a relative path (`![Alt](photo.jpg)`, beside the article) at
 * `/media/…`, where Herald serves it; publishers make it absolute. A path that leaves the
 * articles folder loses its `src`.
 */
export function localImagesServed(html: string, articlePath: string): string {
  return html.replace(/<img src="([^"]*)"/g, (whole, src: string) => {
    if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(src) || src.startsWith("#")) return whole;
    // markdown-it percent-encodes the path it read (`my photo.jpg` → `my%20photo.jpg`);
    // `paths.media()` encodes the file's name again, so it is decoded first.
    const resolved = inArticlesFolder(decodePath(src.replaceAll("&amp;", "&")), articlePath);
    if (resolved === undefined) return '<img src=""';
    return `<img src="${paths.media(resolved).replaceAll("&", "&amp;")}"`;
  });
}

function decodePath(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}

/** An absolute http(s) URL stays; a path is resolved against the article's folder. */
export function imageSource(src: string, articlePath: string): string | { error: string } {
  if (/^[a-z][a-z0-9+.-]*:/i.test(src)) {
    const url = URL.parse(src);
    if (url && (url.protocol === "https:" || url.protocol === "http:")) return url.href;
    return { error: "`image` URL must start with https:// or http://" };
  }
  return (
    inArticlesFolder(src, articlePath) ?? {
      error: "`image` must stay inside the articles folder",
    }
  );
}

/**
 * A path written in an article, relative to it (or, with a leading `/`, to the articles
 * folder), as a path inside the articles folder; `undefined` if it leads out of it.
 */
export function inArticlesFolder(path: string, articlePath: string): string | undefined {
  const resolved = path.startsWith("/")
    ? posix.normalize(path.slice(1))
    : posix.join(posix.dirname(articlePath), path);
  return resolved.startsWith("../") || resolved === ".." ? undefined : resolved;
}
