import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seedPath } from "../helpers/articles.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

/** A GET with the path exactly as written: `fetch` would normalise the dots away. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("latin1");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // A path Node refuses to send, or the server refuses to parse, reached nothing.
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.end();
  });
}

/** Many spellings of "go up a folder", encoded, doubled, with backslashes and odd bytes. */
function traversals(): string[] {
  const ups = [
    "../",
    "..%2f",
    "..%2F",
    "%2e%2e/",
    "%2e%2e%2f",
    ".%2e/",
    "%2e./",
    "..%5c",
    "..\\",
    "%252e%252e%252f",
    "..%c0%af",
    "..%ef%bc%8f",
    "....//",
    "..;/",
    "%u002e%u002e/",
    "\u2025/",
  ];
  const targets = [
    "keys/rsa.jwk.json",
    "keys/ed25519.jwk.json",
    "data/herald.sqlite",
    "etc/passwd",
    "%2fetc%2fpasswd",
  ];
  const prefixes = ["/media/", "/media/sub/", "/articles/", "/tags/", "/account/", "/", "/users/"];
  const suffixes = ["", "%00.png", "?.png", "#.png"];
  const paths: string[] = [];
  for (const prefix of prefixes) {
    for (const up of ups) {
      for (const depth of [1, 2, 3, 6]) {
        for (const target of targets) {
          for (const suffix of suffixes) {
            paths.push(
              `${prefix}${encodeURI(up.repeat(depth)).replace(/%25/g, "%")}${target}${suffix}`,
            );
          }
        }
      }
    }
  }
  paths.push("/media//etc/passwd", "/media/%2e%2e", "/media/.", "/media/..", "//keys/rsa.jwk.json");
  return paths;
}

describe("The web surface of a running Herald", () => {
  it("never serves keys/, data/ or anything outside the articles' images, however the path is spelt", async () => {
    const folders = heraldFolders();
    copyFileSync(seedPath, join(folders.articles, "belarus-nordkorea.txt"));
    writeFileSync(join(folders.articles, "photo.png"), "PNG-IMAGE-BYTES");
    const herald = await startHerald(folders);
    const secret = JSON.parse(readFileSync(join(folders.keys, "rsa.jwk.json"), "utf8")).privateKey
      .d as string;
    const paths = traversals();
    expect(paths.length).toBeGreaterThan(3000);
    const leaks: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const path = paths[next++] as string;
        const { status, body } = await rawGet(herald.port, path);
        if (
          body.includes(secret.slice(0, 40)) ||
          body.includes("SQLite format 3") ||
          body.includes("root:x:0:0")
        ) {
          leaks.push(`${status} ${path}`);
        }
        if (status >= 500) leaks.push(`${status} ${path}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(leaks).toEqual([]);
    // The image itself is served, and the service is well.
    expect(await rawGet(herald.port, "/media/photo.png")).toMatchObject({
      status: 200,
      body: "PNG-IMAGE-BYTES",
    });
    // The article files are not served raw from /media.
    expect((await rawGet(herald.port, "/media/belarus-nordkorea.txt")).status).toBe(404);
    expect((await rawGet(herald.port, "/healthz")).status).toBe(200);
  }, 60_000);

  it("sends security headers: a CSP without inline scripts, nosniff and a referrer policy", async () => {
    const folders = heraldFolders();
    copyFileSync(seedPath, join(folders.articles, "belarus-nordkorea.txt"));
    const herald = await startHerald(folders);
    const home = await fetch(herald.origin);
    const feed = (await (await fetch(new URL("/feed.json", herald.origin))).json()) as {
      items: { url: string }[];
    };
    const article = await fetch(feed.items[0]?.url ?? "");
    const missing = await fetch(new URL("/nothing-here", herald.origin));
    for (const response of [home, article, missing]) {
      expect(response.headers.get("content-type")).toMatch(/^text\/html; charset=utf-8/);
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|script-src/);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
      // Only data for search engines (JSON-LD), which no browser runs.
      const scripts = (await response.text()).match(/<script[^>]*>/gi) ?? [];
      expect(scripts.filter((tag) => tag !== '<script type="application/ld+json">')).toEqual([]);
    }
  });

  it("serves the SITE_ICON file as the favicon that its pages link", async () => {
    const folders = heraldFolders();
    const icon = join(folders.root, "icon.png");
    writeFileSync(icon, "PNG-ICON-BYTES");
    const herald = await startHerald(folders, { env: { SITE_ICON: icon } });
    const served = await fetch(new URL("/favicon.png", herald.origin));
    expect(served.headers.get("content-type")).toBe("image/png");
    expect(await served.text()).toBe("PNG-ICON-BYTES");
    const legacy = await fetch(new URL("/favicon.ico", herald.origin), { redirect: "manual" });
    expect(legacy.headers.get("location")).toBe("/favicon.png");
    expect(await (await fetch(herald.origin)).text()).toContain(
      '<link rel="icon" href="/favicon.png" type="image/png">',
    );
  });
});
