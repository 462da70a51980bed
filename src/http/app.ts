import { realpathSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { Socket } from "node:net";
import { extname, join, sep } from "node:path";
import { getLogger } from "@logtape/logtape";
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import { mediaExtensions } from "../source/scan.ts";
import type { FileStamp } from "../store/store.ts";
import { paths, routes } from "../urls.ts";
import { legacyIconPath } from "./favicon.ts";
import { type FollowOptions, followRoute } from "./follow.ts";
import { answerFirst, hotPaths, requestListener } from "./hot-paths.ts";
import { IMAGE_WIDTHS, type ImageResizer } from "./media.ts";
import { type Representation, sendRepresentation } from "./representation.ts";
import type { FeedFormat, Site } from "./site.ts";
import { sitemapPaths } from "./sitemap.ts";
import { stylesheetPath } from "./style.ts";

const logger = getLogger(["herald", "http"]);

type Body = Representation | undefined;

export interface AppDeps {
  readonly site: Site;
  /** Fedify and content negotiation, mounted before every route (see federation/mount.ts). */
  readonly federation?: RequestHandler;
  readonly articlesDir: string;
  /** Makes the smaller copies of images asked for with `?w=`; without it, `?w=` is ignored. */
  readonly resizer?: ImageResizer;
  /** Local image files of the account (avatar, header), served at `/account/<name>`. */
  readonly accountImages?: Readonly<Record<string, string>>;
  /** For `/readyz`: throws when a backend (store, queue) cannot be reached. */
  readonly ready?: () => Promise<void>;
  /**
   * `TRUST_PROXY`: the proxies whose `X-Forwarded-For` gives `req.ip`, the client address the
   * inbox rate limit counts. Unset: the socket's peer, whatever the request's headers say.
   */
  readonly trustProxy?: number | readonly string[] | undefined;
  /** The follow box's form (`follow.ts`); without it, `/follow` is not there. */
  readonly follow?: FollowOptions;
}

const cacheControl = {
  page: "public, max-age=60",
  feed: "public, max-age=60",
  asset: "public, max-age=86400",
  error: "no-cache",
} as const;

// Pages load nothing but their own stylesheet and images; no script of any kind runs. The
// follow box's form goes to `/follow`, which redirects to the reader's server: browsers
// check `form-action` on that redirect too, hence `https:`.
const contentSecurityPolicy =
  "default-src 'none'; style-src 'self'; img-src 'self' https: data:; " +
  "base-uri 'none'; form-action 'self' https:; frame-ancestors 'none'";

/**
 * An SVG (or HTML, XML) file opened on its own is a document, and its scripts would run on our
 * origin: none may run, and it may not even reach its own origin (`sandbox`). Inline styles
 * stay, for the drawing to look right.
 */
const SCRIPTABLE_MEDIA = /\.(svg|html?|xhtml|xml)$/i;
const scriptableMediaPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/** The HTTP surface, as a route table; nothing listens until main.ts says so. */
export function createApp(deps: AppDeps): Express {
  const { site } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false); // representations carry their own strong ETags
  if (deps.trustProxy !== undefined) app.set("trust proxy", deps.trustProxy);
  app.use(securityHeaders);

  addHealthRoutes(app, deps.ready);

  if (deps.federation) app.use(deps.federation);

  addPageRoutes(app, deps);
  addFeedRoutes(app, site);
  addArticleRoute(app, site);
  addTagRoutes(app, site);
  addSectionRoutes(app, site);
  addArchiveRoutes(app, site);
  addMediaRoutes(app, deps);

  app.use((req: Request, res: Response) => notFound(site, req, res));
  app.use(errorHandler);
  answerFirst(
    app,
    hotPaths(site, {
      always: securityHeaderPairs.flat(),
      contentSecurityPolicy,
      cacheControl,
      negotiatesArticles: deps.federation !== undefined,
    }),
  );
  return app;
}

/** The home page, the follow box, the stylesheet, sitemaps, robots.txt and the icon. */
function addPageRoutes(app: Express, { site, follow }: AppDeps): void {
  app.get(paths.home, async (req, res) => send(req, res, await site.home(), cacheControl.page));
  if (follow) {
    app.get(
      paths.follow,
      followRoute(follow, async (req, res) =>
        send(req, res, await site.followRefused(), cacheControl.error, 400),
      ),
    );
  }
  app.get(stylesheetPath, (req, res) => send(req, res, site.stylesheet, cacheControl.asset));
  app.get(sitemapPaths.sitemap, async (req, res) =>
    send(req, res, await site.sitemap(), cacheControl.feed),
  );
  app.get(sitemapPaths.news, async (req, res) =>
    send(req, res, await site.newsSitemap(), cacheControl.feed),
  );
  app.get(sitemapPaths.robots, (req, res) => send(req, res, site.robots, cacheControl.page));
  app.get(site.icon.path, (req, res) => {
    res.setHeader("Content-Security-Policy", scriptableMediaPolicy); // an SVG icon is a document
    send(req, res, site.icon.body, cacheControl.asset);
  });
  // Browsers ask for /favicon.ico whatever the pages say: point them at the icon.
  if (site.icon.path !== legacyIconPath) {
    app.get(legacyIconPath, (_req, res) => {
      res.setHeader("Cache-Control", cacheControl.asset);
      res.redirect(301, site.icon.path);
    });
  }
}

function addFeedRoutes(app: Express, site: Site): void {
  const feedRoutes: [string, FeedFormat][] = [
    [paths.rss, "rss"],
    [paths.atom, "atom"],
    [paths.json, "json"],
  ];
  for (const [path, format] of feedRoutes) {
    app.get(path, async (req, res) => sendOr404(site, req, res, await site.feed(format)));
  }
}

function addArticleRoute(app: Express, site: Site): void {
  app.get(routes.article, async (req, res) => {
    // `?replies=2`: the second page of its replies (older ones); anything else is not a page.
    const replies = req.query.replies ?? "1";
    const page =
      typeof replies === "string" && /^[1-9]\d{0,3}$/.test(replies)
        ? await site.articlePage(String(req.params.slug), Number(replies))
        : undefined;
    if (page === undefined) {
      await notFound(site, req, res);
      return;
    }
    send(
      req,
      res,
      page.body,
      page.status === 200 ? cacheControl.page : cacheControl.error,
      page.status,
    );
  });
}

// A tag's page and feeds live at one spelling; the others (`/tags/wahl`, as fediverse
// servers link hashtags) redirect there.
function addTagRoutes(app: Express, site: Site): void {
  const tagRoutes: [string, (tag: string) => string, (tag: string) => Promise<Body>][] = [
    [routes.tag, paths.tag, (tag) => site.tagPage(tag)],
    [routes.tagRss, paths.tagRss, (tag) => site.feed("rss", tag)],
    [routes.tagAtom, paths.tagAtom, (tag) => site.feed("atom", tag)],
    [routes.tagJson, paths.tagJson, (tag) => site.feed("json", tag)],
  ];
  for (const [route, path, body] of tagRoutes) {
    app.get(route, async (req, res) => {
      const asked = String(req.params.tag);
      const tag = await site.canonicalTag(asked);
      if (tag === asked) {
        sendOr404(site, req, res, await body(tag));
        return;
      }
      res.setHeader("Cache-Control", cacheControl.page);
      res.redirect(301, path(tag));
    });
  }
}

/** A section's page and feeds (`SECTIONS`); an unknown section is not there. */
function addSectionRoutes(app: Express, site: Site): void {
  const sectionRoutes: [string, (id: string) => Promise<Body>][] = [
    [routes.section, (id) => site.sectionPage(id)],
    [routes.sectionRss, (id) => site.sectionFeed("rss", id)],
    [routes.sectionAtom, (id) => site.sectionFeed("atom", id)],
    [routes.sectionJson, (id) => site.sectionFeed("json", id)],
  ];
  for (const [route, body] of sectionRoutes) {
    app.get(route, async (req, res) => {
      await sendOr404(site, req, res, await body(String(req.params.section)));
    });
  }
}

function addArchiveRoutes(app: Express, site: Site): void {
  const archiveRoutes: [string, FeedFormat][] = [
    [routes.archiveRss, "rss"],
    [routes.archiveAtom, "atom"],
    [routes.archiveJson, "json"],
  ];
  for (const [path, format] of archiveRoutes) {
    app.get(path, async (req, res) => {
      const page = String(req.params.page);
      const body = /^[1-9]\d{0,8}$/.test(page)
        ? await site.archiveFeed(format, Number(page))
        : undefined;
      await sendOr404(site, req, res, body);
    });
  }
}

/** Images next to the articles, and the account's local images. */
function addMediaRoutes(app: Express, deps: AppDeps): void {
  // Images next to the articles; nothing else from that folder: no dotfile, no article,
  // nothing a symbolic link leads to outside it.
  const mediaRoot = realpathSync(deps.articlesDir);
  // `?w=1600`: a copy at most that wide (`media.ts`), for feeds, cards and posts.
  app.get("/media/*path", async (req, res) => {
    const file = await mediaFile(mediaRoot, (req.params as { path: string[] }).path);
    const width = req.query.w === undefined ? undefined : Number(req.query.w);
    if (file === undefined) {
      await notFound(deps.site, req, res);
    } else if (width !== undefined && !IMAGE_WIDTHS.includes(width)) {
      res
        .status(400)
        .type("text/plain")
        .send(`w must be one of ${IMAGE_WIDTHS.join(", ")}.\n`);
    } else {
      const sent =
        width === undefined || !deps.resizer
          ? file.path
          : await deps.resizer.resized(file.path, file.stamp, width);
      if (SCRIPTABLE_MEDIA.test(file.path)) {
        res.setHeader("Content-Security-Policy", scriptableMediaPolicy);
      }
      // The copy's path is ours (under DATA_DIR, which may be a dot folder).
      res.sendFile(sent, { maxAge: "1d", dotfiles: sent === file.path ? "deny" : "allow" });
    }
  });
  for (const [name, file] of Object.entries(deps.accountImages ?? {})) {
    app.get(`/account/${name}`, (_req, res) => {
      res.sendFile(file, { maxAge: "1d", dotfiles: "allow" });
    });
  }
}

async function sendOr404(
  site: Site,
  req: Request,
  res: Response,
  body: Representation | undefined,
): Promise<void> {
  if (body === undefined) {
    await notFound(site, req, res);
    return;
  }
  send(
    req,
    res,
    body,
    body.contentType.startsWith("text/html") ? cacheControl.page : cacheControl.feed,
  );
}

async function notFound(site: Site, req: Request, res: Response): Promise<void> {
  send(req, res, await site.notFound(), cacheControl.error, 404);
}

/** A delivery worker's whole HTTP surface: is it alive, can it reach its backends. */
export function createHealthApp(ready?: () => Promise<void>): Express {
  const app = express();
  app.disable("x-powered-by");
  addHealthRoutes(app, ready);
  return app;
}

function addHealthRoutes(app: Express, ready?: () => Promise<void>): void {
  app.get("/healthz", (_req, res) => {
    res.type("text/plain").send("ok\n");
  });
  app.get("/readyz", async (_req, res) => {
    try {
      await ready?.();
      res.type("text/plain").send("ready\n");
    } catch (error) {
      logger.warn("Not ready: {error}", { error });
      res.status(503).type("text/plain").send("not ready\n");
    }
  });
}

function send(
  req: Request,
  res: Response,
  body: Representation,
  cache: string,
  status = 200,
): void {
  if (body.contentType.startsWith("text/html")) {
    res.setHeader("Content-Security-Policy", contentSecurityPolicy);
  }
  sendRepresentation(req, res, body, { cacheControl: cache, status });
}

async function mediaFile(
  root: string,
  parts: readonly string[],
): Promise<{ path: string; stamp: FileStamp } | undefined> {
  if (parts.some((part) => part.startsWith(".") || part.includes("/") || part.includes("\\"))) {
    return undefined;
  }
  const extension = extname(parts.at(-1) ?? "").toLowerCase();
  if (!(mediaExtensions as readonly string[]).includes(extension)) return undefined;
  try {
    const path = await realpath(join(root, ...parts));
    if (!path.startsWith(root + sep)) return undefined;
    const stats = await stat(path);
    return stats.isFile()
      ? { path, stamp: { size: stats.size, mtimeMs: stats.mtimeMs } }
      : undefined;
  } catch {
    return undefined;
  }
}

/** On every answer of the site, first (hot-paths.ts sends them too). */
const securityHeaderPairs = [
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "strict-origin-when-cross-origin"],
] as const;

const securityHeaders: RequestHandler = (_req, res, next) => {
  for (const [name, value] of securityHeaderPairs) res.setHeader(name, value);
  next();
};

const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  // Express marks what the request got wrong (a path that does not decode: 400) with a status.
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    logger.info("Refused {method} {url}: {error}", {
      method: req.method,
      url: req.originalUrl,
      error: error instanceof Error ? error.message : String(error),
    });
    if (!res.headersSent) res.status(status).type("text/plain").send(`${STATUS_CODES[status]}\n`);
    return;
  }
  logger.error("Request {method} {path} failed: {error}", {
    method: req.method,
    path: req.path,
    error,
  });
  if (!res.headersSent) res.status(500).type("text/plain").send("Internal Server Error\n");
};

/**
 * Open client connections beyond which each answer closes its connection (`Connection: close`)
 * instead of keeping it for the client's next request. When a story reaches thousands of
 * servers that do not know the account yet, each fetches its actor and key once, and a client
 * that keeps connections alive holds that one for Node's 5 s: at 10,000 servers Herald held up
 * to 5,800 idle connections, which took its peak memory from about 275 to 340–360 MB (issue
 * #17; docs/benchmarks-history.md, "Cost curves, session by session"). Below the limit
 * nothing changes: a reverse proxy's few connections, and readers' browsers, keep theirs. (A
 * shorter keep-alive for everyone was tried first: Node's and undici's clients take
 * `Keep-Alive: timeout=1` as "do not reuse", so every request of theirs paid for a new
 * connection.)
 */
export const KEEP_ALIVE_LIMIT = 512;

/**
 * Listens on `port` (0: any free one); resolves once it does. As `app.listen` does, with the
 * hot paths' listener (`requestListener`), and no connection kept for a next request while
 * more than `KEEP_ALIVE_LIMIT` are open.
 *
 * Requests and responses are Node's own, as a bare `node:http` server makes them; express gives
 * those it routes its prototypes (`Object.setPrototypeOf` in its app function), so in Node's
 * HTTP code they have a second shape. Made with express's prototypes from birth instead
 * (2026-12-06: `Reflect.construct` with a `new.target` of express's), every request and
 * response went through a constructor V8 did not inline and a runtime lookup of its map, which
 * cost more than the second shape: after express's requests, a home page's 304 cost 1.11–1.23
 * times a bare server's CPU then, 1.09–1.11 times now (issue #17; docs/benchmarks-history.md,
 * "Hot paths").
 */
export function listen(app: Express, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("request", closingWhenCrowded(server, KEEP_ALIVE_LIMIT, requestListener(app)));
    server.once("error", reject);
    server.listen(port, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/**
 * `listener`, closing the connection after its answer while more than `limit` connections are
 * open to `server` (see `KEEP_ALIVE_LIMIT`).
 */
function closingWhenCrowded(
  server: Server,
  limit: number,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  let open = 0;
  server.on("connection", (socket: Socket) => {
    open++;
    socket.once("close", () => {
      open--;
    });
  });
  return (req, res) => {
    if (open > limit) res.shouldKeepAlive = false;
    listener(req, res);
  };
}
