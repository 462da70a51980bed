/**
 * Smaller copies of the images beside the articles, for feeds, link cards and fediverse
 * attachments: `/media/photo.jpg?w=1600` is the photo at most 1,600 pixels wide, turned
 * upright, without its metadata (camera, GPS position), in the same format. Each copy is made
 * once, on its first request, and kept under `DATA_DIR/media`; an edited image gets new ones.
 */
import { createHash } from "node:crypto";
import { mkdir, rename, stat, writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { RESIZABLE_IMAGE, SHARE_WIDTH } from "../links.ts";
import type { FileStamp } from "../store/store.ts";

const logger = getLogger(["herald", "http", "media"]);

/** The widths a copy may have: what Herald links to, and a few for pages that want less. */
export const IMAGE_WIDTHS: readonly number[] = [320, 640, 960, 1280, SHARE_WIDTH];

export interface ImageResizer {
  /**
   * The file to send for `file` at `width` pixels at most: a cached copy, or `file` itself
   * when it is not a raster image or cannot be read as one. `stamp` is the file's size and
   * mtime, which the caller has at hand: an edited image gets new copies.
   */
  resized(file: string, stamp: FileStamp, width: number): Promise<string>;
}

export function createImageResizer(cacheDir: string): ImageResizer {
  /** Each copy asked for in this process: made (or found on disk) once, then just sent. */
  const copies = new Map<string, Promise<string>>();
  let ready: Promise<unknown> | undefined;

  const make = async (file: string, width: number, copy: string): Promise<string> => {
    ready ??= mkdir(cacheDir, { recursive: true });
    await ready;
    try {
      // Loaded on the first resize: libvips takes 25 MB that a site without images never needs.
      const { default: sharp } = await import("sharp");
      const body = await sharp(file, { limitInputPixels: 100_000_000 })
        .rotate()
        .resize({ width, withoutEnlargement: true })
        .toBuffer();
      const temporary = `${copy}.${process.pid}.tmp`;
      await writeFile(temporary, body);
      await rename(temporary, copy);
      return copy;
    } catch (error) {
      logger.warn("Cannot resize {file}, sending it as it is: {error}", { file, error });
      return file;
    }
  };

  return {
    async resized(file, { size, mtimeMs }, width) {
      const extension = extname(file).toLowerCase();
      if (!RESIZABLE_IMAGE.test(extension)) return file;
      const key = createHash("sha256").update(`${file}\n${size}\n${mtimeMs}`).digest("hex");
      const copy = join(cacheDir, `${key.slice(0, 32)}-${width}${extension}`);
      let sent = copies.get(copy);
      if (sent === undefined) {
        sent = exists(copy).then((found) => (found ? copy : make(file, width, copy)));
        copies.set(copy, sent);
      }
      return sent;
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
