import { request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  etagMatches,
  makeRepresentation,
  makeRepresentationAsync,
  type Representation,
  sendRepresentation,
} from "../../src/http/representation.ts";

const lastModified = new Date("2024-05-02T10:00:00.500Z");
const body = `<?xml version="1.0" encoding="utf-8"?>\n<rss>${"<item>Grüße, Straße &amp; Maß</item>\n".repeat(200)}</rss>\n`;
const rep: Representation = makeRepresentation(body, "application/rss+xml", lastModified);
const tiny = makeRepresentation("x", "text/plain", lastModified);

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

let server: Server;
let base: URL;

function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, base), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  const app = express();
  app.get("/feed.xml", (req, res) => {
    sendRepresentation(req, res, rep, { cacheControl: "public, max-age=60" });
  });
  app.get("/tiny.txt", (req, res) => {
    sendRepresentation(req, res, tiny, { cacheControl: "no-cache" });
  });
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe("makeRepresentation()", () => {
  it("adds charset=utf-8, a strong ETag and whole-second Last-Modified", () => {
    expect(rep.contentType).toBe("application/rss+xml; charset=utf-8");
    expect(rep.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(rep.lastModified).toEqual(new Date("2024-05-02T10:00:00Z"));
    expect(rep.identity.body.toString("utf8")).toBe(body);
  });

  it("hashes the body: equal bodies give equal ETags, changed bodies new ones", () => {
    expect(makeRepresentation(body, "application/rss+xml", new Date()).etag).toBe(rep.etag);
    expect(makeRepresentation(`${body} `, "application/rss+xml", lastModified).etag).not.toBe(
      rep.etag,
    );
  });

  it("compresses at build time, and skips codings that do not make the body smaller", () => {
    expect(rep.gzip?.body.length).toBeLessThan(rep.identity.body.length);
    expect(rep.br?.body.length).toBeLessThan(rep.identity.body.length);
    expect(tiny.gzip).toBeUndefined();
    expect(tiny.br).toBeUndefined();
  });
});

describe("makeRepresentationAsync()", () => {
  it("builds the same representation, compressing off the event loop", async () => {
    const built = await makeRepresentationAsync(body, "application/rss+xml", lastModified);
    expect(built.etag).toBe(rep.etag);
    expect(built.contentType).toBe(rep.contentType);
    expect(built.lastModified).toEqual(rep.lastModified);
    expect(gunzipSync(built.gzip?.body ?? Buffer.alloc(0)).equals(rep.identity.body)).toBe(true);
    expect(brotliDecompressSync(built.br?.body ?? Buffer.alloc(0)).equals(rep.identity.body)).toBe(
      true,
    );
    expect(built.br?.headers).toEqual(rep.br?.headers);
  });

  it("keeps a binary body's content type as given", async () => {
    const png = await makeRepresentationAsync(
      new Uint8Array([137, 80, 78, 71]),
      "image/png",
      lastModified,
    );
    expect(png.contentType).toBe("image/png");
  });
});

describe("etagMatches()", () => {
  it("compares weakly over a list and accepts *", () => {
    expect(etagMatches('"abc"', '"abc"')).toBe(true);
    expect(etagMatches('W/"abc"', '"abc"')).toBe(true);
    expect(etagMatches('"x", W/"y" ,"abc"', '"abc"')).toBe(true);
    expect(etagMatches(" * ", '"abc"')).toBe(true);
    expect(etagMatches('"abcd", "ab"', '"abc"')).toBe(false);
    expect(etagMatches("abc", '"abc"')).toBe(false);
    expect(etagMatches('"a,b", "abc"', '"abc"')).toBe(true);
  });
});

describe("sendRepresentation()", () => {
  it("answers 200 with the body, validators, caching headers and charset", async () => {
    const reply = await get("/feed.xml");
    expect(reply.status).toBe(200);
    expect(reply.body.toString("utf8")).toBe(body);
    expect(reply.headers["content-type"]).toBe("application/rss+xml; charset=utf-8");
    expect(reply.headers["content-length"]).toBe(String(Buffer.byteLength(body)));
    expect(reply.headers.etag).toBe(rep.etag);
    expect(reply.headers["last-modified"]).toBe("Thu, 02 May 2024 10:00:00 GMT");
    expect(reply.headers["cache-control"]).toBe("public, max-age=60");
    expect(reply.headers.vary).toBe("Accept-Encoding");
    expect(reply.headers["content-encoding"]).toBeUndefined();
  });

  it("answers 304 without a body to a matching If-None-Match", async () => {
    for (const tag of [rep.etag, `W/${rep.etag}`, `"other", ${rep.etag}`, "*"]) {
      const reply = await get("/feed.xml", { "If-None-Match": tag });
      expect(reply.status).toBe(304);
      expect(reply.body.length).toBe(0);
      expect(reply.headers.etag).toBe(rep.etag);
      expect(reply.headers["cache-control"]).toBe("public, max-age=60");
      expect(reply.headers.vary).toBe("Accept-Encoding");
    }
  });

  it("answers 200 to an If-None-Match that does not match, whatever If-Modified-Since says", async () => {
    const reply = await get("/feed.xml", {
      "If-None-Match": '"stale"',
      "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT",
    });
    expect(reply.status).toBe(200);
    expect(reply.body.toString("utf8")).toBe(body);
  });

  it("answers 304 to If-Modified-Since at or after Last-Modified, 200 before it", async () => {
    const equal = await get("/feed.xml", { "If-Modified-Since": "Thu, 02 May 2024 10:00:00 GMT" });
    expect(equal.status).toBe(304);
    const later = await get("/feed.xml", { "If-Modified-Since": "Fri, 03 May 2024 00:00:00 GMT" });
    expect(later.status).toBe(304);
    const earlier = await get("/feed.xml", {
      "If-Modified-Since": "Thu, 02 May 2024 09:59:59 GMT",
    });
    expect(earlier.status).toBe(200);
    expect(earlier.body.toString("utf8")).toBe(body);
    const garbage = await get("/feed.xml", { "If-Modified-Since": "yesterday" });
    expect(garbage.status).toBe(200);
  });

  it("answers HEAD with the headers of GET and no body", async () => {
    const reply = await get("/feed.xml", {}, "HEAD");
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(0);
    expect(reply.headers["content-length"]).toBe(String(Buffer.byteLength(body)));
    expect(reply.headers.etag).toBe(rep.etag);
    const brotli = await get("/feed.xml", { "Accept-Encoding": "br" }, "HEAD");
    expect(brotli.headers["content-length"]).toBe(String(rep.br?.body.length));
    expect(brotli.body.length).toBe(0);
  });

  it("sends gzip and brotli that decode to the same bytes", async () => {
    const gzip = await get("/feed.xml", { "Accept-Encoding": "gzip" });
    expect(gzip.headers["content-encoding"]).toBe("gzip");
    expect(gzip.headers["content-length"]).toBe(String(gzip.body.length));
    expect(gunzipSync(gzip.body).equals(rep.identity.body)).toBe(true);

    const br = await get("/feed.xml", { "Accept-Encoding": "gzip, deflate, br" });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers["content-length"]).toBe(String(br.body.length));
    expect(brotliDecompressSync(br.body).equals(rep.identity.body)).toBe(true);
    expect(br.headers["content-type"]).toBe("application/rss+xml; charset=utf-8");

    // Each coding has its own strong ETag, and revalidates with it.
    expect(new Set([br.headers.etag, gzip.headers.etag, rep.etag]).size).toBe(3);
    const revalidated = await get("/feed.xml", {
      "Accept-Encoding": "br",
      "If-None-Match": String(br.headers.etag),
    });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.etag).toBe(br.headers.etag);
  });

  it("honours q-values, q=0 included", async () => {
    const cases: ReadonlyArray<readonly [string, string | undefined]> = [
      ["br;q=0, gzip", "gzip"],
      ["br;q=0.5, gzip;q=0.8", "gzip"],
      ["gzip;q=0.5, br;q=0.5", "br"],
      ["*", "br"],
      ["*;q=0", undefined],
      ["gzip;q=0, br;q=0", undefined],
      ["identity", undefined],
      ["x-gzip", "gzip"],
      ["deflate", undefined],
      ["BR;Q=1", "br"],
    ];
    for (const [accept, coding] of cases) {
      const reply = await get("/feed.xml", { "Accept-Encoding": accept });
      expect([accept, reply.headers["content-encoding"]]).toEqual([accept, coding]);
    }
  });

  it("sends small bodies uncompressed and without Vary", async () => {
    const reply = await get("/tiny.txt", { "Accept-Encoding": "br, gzip" });
    expect(reply.headers["content-encoding"]).toBeUndefined();
    expect(reply.headers.vary).toBeUndefined();
    expect(reply.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(reply.body.toString()).toBe("x");
  });
});
