import { readdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.ts";
import { createImageResizer } from "../../src/http/media.ts";
import { createSite } from "../../src/http/site.ts";
import { articlesDir, sqliteStore, tempDir } from "../helpers/articles.ts";
import { serve } from "../helpers/serve.ts";

/** The app over a real folder, with smaller copies kept in a real cache folder. */
async function startMedia() {
  const articles = articlesDir();
  const cache = join(tempDir(), "media");
  const site = createSite(sqliteStore().store, {
    page: {
      origin: new URL("http://news.test"),
      title: "T",
      description: "D",
      language: "en",
      handle: "@news@news.test",
    },
    feed: {
      origin: new URL("http://news.test"),
      title: "T",
      author: "A",
    },
    limit: 10,
  });
  const base = await serve(
    createApp({ site, articlesDir: articles.dir, resizer: createImageResizer(cache) }),
  );
  const get = (path: string) => fetch(`${base}${path}`);
  return { articles, cache, get };
}

/** A camera-sized photo with EXIF data (a GPS position among it), as JPEG. */
function photo(width: number, height: number, format: "jpeg" | "png" = "jpeg") {
  const image = sharp({ create: { width, height, channels: 3, background: "#3a6" } });
  return (format === "png" ? image.png() : image.jpeg())
    .withExifMerge({
      IFD0: { Make: "TestCam", Copyright: "Someone" },
      IFD3: { GPSLatitudeRef: "N" },
    })
    .toBuffer();
}

describe("smaller copies of images (?w=)", () => {
  it("sends a photo at most 1,600 pixels wide, without its metadata, and keeps the copy", async () => {
    const { articles, cache, get } = await startMedia();
    const original = await photo(4000, 3000);
    articles.write("bilder/foto.jpg", original);
    expect((await sharp(original).metadata()).exif).toBeDefined();

    const response = await get("/media/bilder/foto.jpg?w=1600");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/jpeg");
    const body = Buffer.from(await response.arrayBuffer());
    const meta = await sharp(body).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([1600, 1200, "jpeg"]);
    expect(meta.exif).toBeUndefined();
    expect(body.length).toBeLessThan(original.length);
    expect(readdirSync(cache)).toHaveLength(1);

    // The original is still there as it was; a second request is served from the copy.
    const whole = Buffer.from(await (await get("/media/bilder/foto.jpg")).arrayBuffer());
    expect(whole.equals(original)).toBe(true);
    const again = Buffer.from(await (await get("/media/bilder/foto.jpg?w=1600")).arrayBuffer());
    expect(again.equals(body)).toBe(true);
    expect(readdirSync(cache)).toHaveLength(1);
  });

  it("never enlarges, makes a new copy when the image changes, and refuses other widths", async () => {
    const { articles, cache, get } = await startMedia();
    articles.write("small.png", await photo(800, 600, "png"));
    const small = await sharp(
      Buffer.from(await (await get("/media/small.png?w=1600")).arrayBuffer()),
    ).metadata();
    expect([small.width, small.format]).toEqual([800, "png"]);

    articles.write("small.png", await photo(2000, 1000, "png"));
    const edited = await sharp(
      Buffer.from(await (await get("/media/small.png?w=1600")).arrayBuffer()),
    ).metadata();
    expect([edited.width, edited.height]).toEqual([1600, 800]);
    expect(readdirSync(cache)).toHaveLength(2);

    expect((await get("/media/small.png?w=1601")).status).toBe(400);
    expect((await get("/media/small.png?w=abc")).status).toBe(400);
    expect((await get("/media/missing.png?w=1600")).status).toBe(404);
  });

  it("sends what it cannot resize as it is: a vector image, a broken file", async () => {
    const { articles, get } = await startMedia();
    articles.write("logo.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>');
    articles.write("broken.jpg", "not a JPEG");
    const svg = await get("/media/logo.svg?w=640");
    expect([svg.status, await svg.text()]).toEqual([
      200,
      '<svg xmlns="http://www.w3.org/2000/svg"/>',
    ]);
    expect(await (await get("/media/broken.jpg?w=640")).text()).toBe("not a JPEG");
  });
});
