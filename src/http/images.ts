/**
 * Images on pages as a phone wants them (issue #15.3): our own raster images (`/media/…`) get a
 * `srcset` over their smaller copies (`media.ts`), a `sizes` for the column they stand in, and
 * their intrinsic `width` and `height`, so the page keeps their room before they arrive.
 */
import { closeSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { join, normalize, sep } from "node:path";
import { imageSize } from "image-size";
import type { ArticleImage } from "../article.ts";
import { imageUrl, RESIZABLE_IMAGE } from "../links.ts";
import { paths } from "../urls.ts";
import { type Html, html } from "./html.ts";
import { IMAGE_WIDTHS } from "./media.ts";

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/** The intrinsic size of an image by its path inside `ARTICLES_DIR`; `undefined` if unknown. */
export type MeasureImage = (path: string) => ImageSize | undefined;

/** The content column (`style.ts`: the body is 42rem at most, less 1rem padding on each side). */
export const CONTENT_SIZES = "(min-width: 42rem) 40rem, calc(100vw - 2rem)";
/** A home or tag page thumbnail (`.thumb` in `style.ts`). */
export const THUMB_SIZES = "7rem";

/** Where a header is: a JPEG's size can follow a large EXIF block; `image-size` reads as much. */
const HEADER_BYTES = 512 * 1024;

/**
 * Reads the size from the image's header, once per version of the file (its size and mtime).
 *
 * Measured when a page is rendered, not when the article is parsed: the parser reads no other
 * file, and a photo replaced by one of another size gets the right numbers with the next
 * rendering of its page. Until then the old ones only set the room kept while it loads:
 * `height: auto` in the stylesheet gives the loaded image its real proportions.
 *
 * `image-size` (pure JavaScript, a few kB, no dependencies) rather than sharp's `metadata()`:
 * sharp would load libvips, 25 MB that a site whose images are never resized never needs
 * (`media.ts` loads it on the first resize only), and it has no synchronous call. Pages are
 * rendered synchronously, once per change, so a short synchronous read is fine here.
 */
export function createImageMeasure(articlesDir: string): MeasureImage {
  const known = new Map<string, { readonly stamp: string; readonly size?: ImageSize }>();
  let root: string | undefined;
  return (path) => {
    try {
      // As `/media/` serves them: nothing a symbolic link leads to outside the folder, and
      // files only (opening a FIFO would block).
      root ??= realpathSync(articlesDir) + sep;
      const file = realpathSync(join(root, normalize(path)));
      if (!file.startsWith(root)) return undefined;
      const stat = statSync(file);
      if (!stat.isFile()) return undefined;
      const { size, mtimeMs } = stat;
      const stamp = `${size}:${mtimeMs}`;
      const cached = known.get(file);
      if (cached?.stamp === stamp) return cached.size;
      const measured = readSize(file, Math.min(size, HEADER_BYTES));
      known.set(file, measured === undefined ? { stamp } : { stamp, size: measured });
      return measured;
    } catch {
      return undefined;
    }
  };
}

function readSize(file: string, bytes: number): ImageSize | undefined {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync(file, "r");
  try {
    readSync(fd, buffer, 0, bytes, 0);
  } finally {
    closeSync(fd);
  }
  try {
    const { width, height, orientation } = imageSize(buffer);
    // EXIF orientations 5 to 8 turn the picture by a quarter: browsers (and the resizer) show
    // it upright, so its width is the stored height.
    return (orientation ?? 1) >= 5 ? { width: height, height: width } : { width, height };
  } catch {
    return undefined;
  }
}

/** What a page adds to an `<img>`: nothing for an image that is not ours or not measured. */
export interface ResponsiveAttributes {
  readonly srcset?: string;
  readonly sizes?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * `srcset`, `sizes`, `width` and `height` for the image at `src` (absolute, or a path from the
 * site's root) when it is one of our own raster images at its own size (no `?w=`): each copy
 * narrower than the image, then the image itself at its own width.
 */
export function responsiveAttributes(
  src: string,
  origin: URL,
  sizes: string,
  measure: MeasureImage | undefined,
): ResponsiveAttributes {
  const path = ownImagePath(src, origin);
  const size = path === undefined ? undefined : measure?.(path);
  if (size === undefined) return {};
  const copies = IMAGE_WIDTHS.filter((w) => w < size.width).map((w) => `${src}?w=${w} ${w}w`);
  return {
    srcset: [...copies, `${src} ${size.width}w`].join(", "),
    sizes,
    width: size.width,
    height: size.height,
  };
}

/** The path inside `ARTICLES_DIR` of one of our resizable images at its own size. */
function ownImagePath(src: string, origin: URL): string | undefined {
  const url = URL.parse(src, origin.href);
  const prefix = paths.media("");
  if (url === null || url.origin !== origin.origin || url.search !== "" || url.hash !== "") {
    return undefined;
  }
  if (!url.pathname.startsWith(prefix) || !RESIZABLE_IMAGE.test(url.pathname)) return undefined;
  try {
    const path = url.pathname.slice(prefix.length).split("/").map(decodeURIComponent);
    return path.includes("..") ? undefined : path.join("/");
  } catch {
    return undefined;
  }
}

/**
 * An article's HTML as its page shows it: each image with its responsive attributes, loaded
 * lazily (the lead image above it is the one to load first), decoded off the main thread.
 */
export function responsiveContent(html: string, origin: URL, measure?: MeasureImage): string {
  return html.replace(/<img\b([^>]*?)\s*\/?>/g, (_, attributes: string) => {
    const has = (name: string) => new RegExp(`\\s${name}=`).test(attributes);
    const src = /\ssrc="([^"]*)"/.exec(attributes)?.[1]?.replaceAll("&amp;", "&") ?? "";
    const added = responsiveAttributes(src, origin, CONTENT_SIZES, measure);
    const extra: string[] = [];
    // Raw HTML may give its own size; it is kept, and the measured one only fills in.
    for (const [name, value] of Object.entries(added)) {
      if (!has(name)) extra.push(` ${name}="${String(value).replaceAll("&", "&amp;")}"`);
    }
    if (!has("loading")) extra.push(' loading="lazy"');
    if (!has("decoding")) extra.push(' decoding="async"');
    return `<img${attributes}${extra.join("")}>`;
  });
}

/**
 * Wraps each table in a region that scrolls sideways on its own: a wide table (a budget,
 * election results) stays readable on a phone without the page scrolling. The region is
 * focusable and named so that keyboard users can scroll it (axe: scrollable-region-focusable).
 */
export function scrollableTables(html: string, label: string): string {
  return html
    .replace(
      /<table\b/g,
      `<div class="table-scroll" tabindex="0" role="region" aria-label="${label.replaceAll('"', "&quot;")}"><table`,
    )
    .replace(/<\/table>/g, "</table></div>");
}

/**
 * An `<img>` of one card or lead image (`ArticleLinks.image`, sized to share): for one of ours,
 * the shared copy as `src` for browsers without `srcset`, and every copy in the `srcset`.
 * `lazy` for images below the first screen; never for the lead image, which is the largest
 * thing the reader sees first (LCP) and should load at once.
 */
export function imageElement(
  shared: URL,
  alt: string,
  options: {
    readonly origin: URL;
    readonly sizes: string;
    readonly measure: MeasureImage | undefined;
    readonly lazy: boolean;
    readonly className?: string;
  },
): Html {
  const original = new URL(shared);
  if (original.origin === options.origin.origin) original.searchParams.delete("w");
  const { srcset, sizes, width, height } = responsiveAttributes(
    original.href,
    options.origin,
    options.sizes,
    options.measure,
  );
  return html`<img${options.className ? html` class="${options.className}"` : ""} src="${shared.href}" alt="${alt}"${
    srcset === undefined ? "" : html` srcset="${srcset}" sizes="${sizes}"`
  }${width === undefined ? "" : html` width="${width}" height="${height}"`}${
    options.lazy ? html` loading="lazy"` : html` fetchpriority="high"`
  } decoding="async">`;
}

/**
 * The front-matter image above the text, with its caption and credit. Only that one: the
 * card's stand-in, the first image in the text, is already shown where the author put it.
 */
export function leadImage(image: ArticleImage, origin: URL, measure?: MeasureImage): Html {
  const { alt, caption, credit } = image;
  const img = imageElement(imageUrl(image, origin), alt ?? "", {
    origin,
    sizes: CONTENT_SIZES,
    measure,
    lazy: false,
  });
  const figcaption =
    caption === undefined && credit === undefined
      ? ""
      : html`<figcaption>${caption ?? ""}${caption && credit ? " " : ""}${
          credit === undefined ? "" : html`<small class="credit">${credit}</small>`
        }</figcaption>`;
  return html`<figure class="lead-image">${img}${figcaption}</figure>\n`;
}
