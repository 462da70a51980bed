import { writeFileSync } from "node:fs";
import { createServer, IncomingMessage, request, type Server, ServerResponse } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { createApp, KEEP_ALIVE_LIMIT, listen } from "../../src/http/app.ts";
import { hotPaths, requestListener } from "../../src/http/hot-paths.ts";
import { createSite } from "../../src/http/site.ts";
import { runScan } from "../../src/pipeline.ts";
import { articlesDir, sqliteStore } from "../helpers/articles.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

/** How many connections `server` has open. */
function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

interface Answer {
  readonly status: number;
  /** Raw header lines in the order they were sent, volatile values replaced. */
  readonly headers: string[];
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
}

/** One request with exactly these headers, raw: `fetch` would add and merge some of its own. */
function ask(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const raw = res.rawHeaders;
        const body = Buffer.concat(chunks);
        const lines: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i] as string;
          lines.push(`${name}: ${normalise(name, raw[i + 1] as string, body, method)}`);
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: lines,
          etag: res.headers.etag,
          lastModified: res.headers["last-modified"],
        });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Values that change from run to run (dates, hashes of bodies holding dates) become
 * placeholders, after checking they are well formed: the snapshot holds what must not change.
 */
function normalise(name: string, value: string, body: Buffer, method: string): string {
  switch (name.toLowerCase()) {
    case "date":
    case "last-modified":
      expect(Number.isNaN(Date.parse(value))).toBe(false);
      return "<date>";
    case "etag":
      expect(value).toMatch(/^"[\w-]{27}(-gzip|-br)?"$/);
      return value.replace(/^"[\w-]{27}/, '"<hash>');
    case "content-length":
      if (method === "GET") expect(Number(value)).toBe(body.length);
      return "<length>";
    case "location":
      // Object ids are made when an article is first seen.
      return value
        .replace(/^http:\/\/127\.0\.0\.1:\d+/, "<origin>")
        .replace(/\/objects\/[\w-]+$/, "/objects/<id>");
    default:
      return value;
  }
}

const article = (title: string, date: string, tags: string) =>
  `---\ntitle: ${title}\ndate: ${date}\ntags: [${tags}]\n---\n${"A paragraph of the story. ".repeat(40)}\n`;

const routes = [
  "/",
  "/feed.xml",
  "/atom.xml",
  "/feed.json",
  "/tags/news",
  "/tags/news/feed.xml",
  "/tags/news/atom.xml",
  "/tags/news/feed.json",
  "/tags/NEWS",
  "/articles/story-1",
  "/articles/story-1?replies=1",
  "/articles/story-1?replies=x",
  "/articles/missing",
  "/style.css",
  "/robots.txt",
  "/sitemap.xml",
  "/news-sitemap.xml",
  "/favicon.ico",
  "/nothing-here",
];
const codings = [{}, { "accept-encoding": "gzip" }, { "accept-encoding": "gzip, deflate, br" }];
const accepts = [
  {},
  { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
  { accept: "application/activity+json" },
];

describe("the hot paths of a real Herald process", () => {
  it("answer feeds and pages, 200 and 304, GET and HEAD, with the headers they always had", async () => {
    const folders = heraldFolders();
    writeFileSync(
      join(folders.articles, "story-1.md"),
      article("Story 1", "2026-03-01T10:00:00Z", "news, politik"),
    );
    writeFileSync(
      join(folders.articles, "story-2.md"),
      article("Story 2", "2026-03-02T10:00:00Z", "news"),
    );
    const herald = await startHerald(folders);
    const seen: Record<string, string[]> = {};
    for (const path of routes) {
      for (const coding of codings) {
        for (const accept of accepts) {
          const asked = { ...coding, ...accept };
          const first = await ask(herald.port, "GET", path, asked);
          const key = `${path} ${JSON.stringify(asked)}`;
          seen[`GET ${key}`] = [String(first.status), ...first.headers];
          const head = await ask(herald.port, "HEAD", path, asked);
          seen[`HEAD ${key}`] = [String(head.status), ...head.headers];
          if (first.etag !== undefined) {
            const etag = await ask(herald.port, "GET", path, {
              ...asked,
              "if-none-match": first.etag,
            });
            seen[`GET ${key} If-None-Match`] = [String(etag.status), ...etag.headers];
            const stale = await ask(herald.port, "GET", path, {
              ...asked,
              "if-none-match": '"other"',
            });
            seen[`GET ${key} If-None-Match other`] = [String(stale.status), ...stale.headers];
          }
          if (first.lastModified !== undefined) {
            const since = await ask(herald.port, "HEAD", path, {
              ...asked,
              "if-modified-since": first.lastModified,
            });
            seen[`HEAD ${key} If-Modified-Since`] = [String(since.status), ...since.headers];
          }
        }
      }
    }
    expect(seen).toMatchSnapshot();
  }, 60_000);
});

describe("hotPaths()", () => {
  async function siteWithStory() {
    const articles = articlesDir();
    articles.write("story.md", article("Story", "2026-03-01T10:00:00Z", "News"));
    const { store } = sqliteStore();
    const origin = new URL("http://news.test");
    const site = createSite(store, {
      page: { origin, title: "Die Zeitung", language: "de", handle: "@news@news.test" },
      feed: { origin, title: "Die Zeitung", author: "Redaktion" },
      limit: 50,
    });
    await store.subscribe(site.publisher.name);
    const scan = () =>
      runScan({
        articlesDir: articles.dir,
        parseOptions: { defaultLanguage: "de" },
        store,
        publishers: [site.publisher],
      });
    await scan();
    return { articles, scan, site };
  }

  async function listening(listener: Parameters<typeof createServer>[1]): Promise<number> {
    const server = createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as AddressInfo).port;
  }

  /** The hot paths alone on a real server: what they leave to express is answered 418 here. */
  async function hotOnly() {
    const { articles, scan, site } = await siteWithStory();
    const hot = hotPaths(site, {
      always: ["X-Content-Type-Options", "nosniff"],
      contentSecurityPolicy: "default-src 'none'",
      cacheControl: { page: "page", feed: "feed", asset: "asset" },
      negotiatesArticles: true,
    });
    const port = await listening((req, res) => {
      void Promise.resolve(hot(req, res)).then((answered) => {
        if (!answered) res.writeHead(418).end();
      });
    });
    return { articles, scan, port };
  }

  it("makes requests and responses with Node's own classes, as a bare server does; express's routes still get express's (listen())", async () => {
    const { articles, site } = await siteWithStory();
    const app = createApp({ site, articlesDir: articles.dir });
    const server = await listen(app, 0);
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    // As the server made them, before the hot paths or express see them; and once answered.
    const shapes: string[] = [];
    server.prependListener("request", (req, res) => {
      const born =
        Object.getPrototypeOf(req) === IncomingMessage.prototype &&
        Object.getPrototypeOf(res) === ServerResponse.prototype;
      res.once("finish", () => {
        const routed = Object.getPrototypeOf(res) === app.response;
        shapes.push(`${req.url} ${born ? "node" : "other"} ${routed ? "express" : "node"}`);
      });
    });
    const { port } = server.address() as AddressInfo;
    const statuses = [];
    for (const path of ["/", "/nothing-here", "/articles/story", "/"]) {
      statuses.push((await ask(port, "GET", path, {})).status);
    }
    expect(statuses).toEqual([200, 404, 200, 200]);
    // The home page and the article are the hot paths'; the 404 page is express's.
    expect(shapes).toEqual([
      "/ node node",
      "/nothing-here node express",
      "/articles/story node node",
      "/ node node",
    ]);
  });

  it("keeps connections alive, but not while more than KEEP_ALIVE_LIMIT are open (listen())", async () => {
    const { articles, site } = await siteWithStory();
    const server = await listen(createApp({ site, articlesDir: articles.dir }), 0);
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const sockets: Socket[] = [];
    onTestFinished(() => {
      for (const socket of sockets) socket.destroy();
    });
    const open = async (count: number) => {
      for (let i = 0; i < count; i++) sockets.push(connect(port, "127.0.0.1"));
      await expect.poll(() => connections(server), { timeout: 10_000 }).toBe(sockets.length);
    };
    // The connection header of an answer, and whether the server closed the socket after it.
    const ask = (socket: Socket) =>
      new Promise<{ connection: string; closed: boolean }>((resolve) => {
        let text = "";
        const done = (closed: boolean) => {
          const connection = /\r\nconnection: ([^\r]*)/i.exec(text)?.[1] ?? "";
          resolve({ connection: connection.toLowerCase(), closed });
        };
        socket.on("data", (chunk: Buffer) => {
          text += chunk.toString("latin1");
          // Still open 300 ms after a whole answer: kept alive.
          if (text.includes("\r\n\r\n")) setTimeout(() => done(false), 300);
        });
        socket.once("close", () => done(true));
        socket.write("GET /healthz HTTP/1.1\r\nHost: news.test\r\n\r\n");
      });

    await open(1);
    expect(await ask(sockets[0] as Socket)).toEqual({ connection: "keep-alive", closed: false });
    await open(KEEP_ALIVE_LIMIT);
    expect(await ask(sockets[1] as Socket)).toEqual({ connection: "close", closed: true });
  }, 30_000);

  it("answers through requestListener(app) as through the app itself", async () => {
    const { articles, site } = await siteWithStory();
    const app = createApp({ site, articlesDir: articles.dir });
    const [direct, viaApp] = await Promise.all([listening(requestListener(app)), listening(app)]);
    expect(requestListener(app)).not.toBe(app);
    const first = await ask(viaApp, "GET", "/articles/story", {});
    for (const [method, path, headers] of [
      ["GET", "/", {}],
      ["HEAD", "/", { "accept-encoding": "gzip" }],
      ["GET", "/articles/story", { "if-none-match": first.etag ?? "" }],
      ["GET", "/articles/story", { accept: "application/activity+json" }],
      ["GET", "/articles/missing", {}],
      ["GET", "/healthz", {}],
      ["POST", "/", {}],
    ] as const) {
      const [ours, theirs] = await Promise.all(
        [direct, viaApp].map((port) => ask(port, method, path, headers)),
      );
      expect({ method, path, ...ours }).toEqual({ method, path, ...theirs });
    }
  });

  it("answers the prebuilt feeds and pages, and leaves everything else to express", async () => {
    const { port } = await hotOnly();
    const status = async (path: string, headers: Record<string, string> = {}, method = "GET") =>
      (await ask(port, method, path, headers)).status;
    for (const path of [
      "/",
      "/?utm_source=x",
      "/feed.xml",
      "/atom.xml",
      "/feed.json",
      "/style.css",
      "/robots.txt",
      "/sitemap.xml",
      "/news-sitemap.xml",
      "/articles/story",
      "/tags/News",
      "/tags/News/feed.xml",
      "/tags/News/atom.xml",
      "/tags/News/feed.json",
    ]) {
      expect({ path, status: await status(path) }).toEqual({ path, status: 200 });
      expect({ path, status: await status(path, {}, "HEAD") }).toEqual({ path, status: 200 });
    }
    for (const path of [
      "/FEED.XML", // express matches paths whatever their case: its answer, not ours
      "/feed.xml/",
      "/articles/story?replies=2",
      "/articles/missing",
      "/articles/st%6Fry",
      "/tags/news", // a redirect to /tags/News
      "/tags/Nope",
      "/tags/News/other.xml",
      "/favicon.ico",
      "/objects/1",
    ]) {
      expect({ path, status: await status(path) }).toEqual({ path, status: 418 });
    }
    expect(await status("/", {}, "POST")).toBe(418);
    expect(await status("/articles/story", { accept: "application/activity+json" })).toBe(418);
    expect(await status("/feed.json", { accept: "application/json" })).toBe(418);
    expect(await status("/feed.json", { accept: "text/html, application/json;q=0.9" })).toBe(200);
  });

  it("sends 304 for the ETag of the coding it would send, and the body once it changed", async () => {
    const { port, articles, scan } = await hotOnly();
    const first = await ask(port, "GET", "/articles/story", { "accept-encoding": "br" });
    expect(first.headers).toContain('ETag: "<hash>-br"');
    const again = { "accept-encoding": "br", "if-none-match": first.etag ?? "" };
    expect((await ask(port, "GET", "/articles/story", again)).status).toBe(304);
    expect(
      (await ask(port, "GET", "/articles/story", { "if-none-match": first.etag ?? "" })).status,
    ).toBe(200);
    articles.write("story.md", article("Story, edited", "2026-03-01T10:00:00Z", "News"));
    await scan();
    expect((await ask(port, "GET", "/articles/story", again)).status).toBe(200);
    articles.remove("story.md");
    await scan();
    expect((await ask(port, "GET", "/articles/story", {})).status).toBe(418); // 410 is express's
  });
});
