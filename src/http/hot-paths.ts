/**
 * The hot paths: GET and HEAD of the prebuilt feeds and pages, answered before express sees
 * the request (issue 17.4). A 304 through express cost about twice what a bare `node:http`
 * server spends: its request and response prototypes, the layers of its router and of the
 * federation router in front, header by header `setHeader`. Here a request costs a lookup,
 * the site's cached representation and one `writeHead` of a header list built once per
 * representation.
 *
 * Only what express would answer the same way is answered here: anything else (other
 * methods, other spellings of a path, query strings of articles, ActivityPub clients, 404s,
 * redirects, errors) goes on to express as before. `tests/http/hot-paths.test.ts` holds the
 * headers of every route as express sent them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Express } from "express";
import { paths } from "../urls.ts";
import { acceptsActivityPub } from "./federation/negotiation.ts";
import {
  isNotModified,
  mergeVary,
  type Representation,
  selectVariant,
  type Variant,
} from "./representation.ts";
import type { FeedFormat, Site } from "./site.ts";
import { sitemapPaths } from "./sitemap.ts";
import { stylesheetPath } from "./style.ts";

/** What the app adds to every representation it sends; app.ts owns the values. */
export interface Dressing {
  /** Name, value, name, value…: sent first, on every response (security headers). */
  readonly always: readonly string[];
  /** On HTML only. */
  readonly contentSecurityPolicy: string;
  readonly cacheControl: { readonly page: string; readonly feed: string; readonly asset: string };
  /** Article pages carry `Vary: Accept`: the federation negotiates them (and is mounted). */
  readonly negotiatesArticles: boolean;
}

interface Found {
  readonly rep: Representation;
  readonly cacheControl: string;
  readonly varyAccept: boolean;
  /** Which header lists fit this answer (`headerList`): built once, not per request. */
  readonly kind: string;
}

/**
 * Answers the request and returns (or resolves) `true`, or `false` having written nothing.
 * An answer found less than `FRESH_MS` ago is sent at once, without waiting for anything.
 */
export type HotPaths = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/**
 * How long an answer is sent again without asking the site: answering in the same turn as the
 * request came costs less than after an `await` (a bare server measured 42–57k 304s a second
 * against 27–51k). An article change is seen at once (`site.generation()`); replies and likes,
 * which the site itself reads at most twice a second, half a second later at most: an approved
 * reply is on the page within a second (issue #16).
 */
const FRESH_MS = 500;
/** Kept answers by URL; more than this, and they are dropped (they are found again at once). */
const FRESH_ENTRIES = 1000;

export function hotPaths(site: Site, dressing: Dressing): HotPaths {
  const lookup = lookupFor(site, dressing);
  const fresh = new Map<string, { answer: Found; generation: number; until: number }>();

  /** Looks the answer up, and keeps it for the next requests of the same URL. */
  const findAndKeep = async (
    url: string,
    find: () => Promise<Found | undefined>,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<boolean> => {
    // Read before asking: an answer built before a change must not pass for a newer one.
    const generation = site.generation();
    let answer: Found | undefined;
    try {
      answer = await find();
    } catch {
      return false; // express asks again, and logs and answers the error its way
    }
    if (answer === undefined) return false;
    if (fresh.size >= FRESH_ENTRIES) fresh.clear();
    fresh.set(url, { answer, generation, until: Date.now() + FRESH_MS });
    send(req, res, answer, dressing);
    return true;
  };

  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    // Every ActivityPub media type names JSON: most requests are settled without parsing Accept.
    if (req.headers.accept?.includes("json") && acceptsActivityPub(req)) return false;
    const url = req.url ?? "";
    const kept = fresh.get(url);
    if (kept !== undefined && kept.generation === site.generation() && kept.until > Date.now()) {
      send(req, res, kept.answer, dressing);
      return true;
    }
    const find = lookup(url);
    return find === undefined ? false : findAndKeep(url, find, req, res);
  };
}

/**
 * Which of the site's answers a URL asks for: the exact paths, `/articles/<slug>` and
 * `/tags/<tag>[/<feed>]` with plain segments; `undefined` for the rest, which is express's.
 */
function lookupFor(
  site: Site,
  dressing: Dressing,
): (url: string) => (() => Promise<Found | undefined>) | undefined {
  const { cacheControl } = dressing;
  const found = (rep: Representation | undefined, cache: string, varyAccept = false) =>
    rep === undefined
      ? undefined
      : { rep, cacheControl: cache, varyAccept, kind: `${varyAccept}\n${cache}` };
  // As app.ts's `sendOr404`: HTML is a page, the rest a feed.
  const pageOrFeed = (rep: Representation | undefined) =>
    found(rep, rep?.contentType.startsWith("text/html") ? cacheControl.page : cacheControl.feed);
  const feeds: [string, FeedFormat][] = [
    ["feed.xml", "rss"],
    ["atom.xml", "atom"],
    ["feed.json", "json"],
  ];
  const exact = new Map<string, () => Promise<Found | undefined>>([
    [paths.home, async () => found(await site.home(), cacheControl.page)],
    [stylesheetPath, async () => found(site.stylesheet, cacheControl.asset)],
    [sitemapPaths.robots, async () => found(site.robots, cacheControl.page)],
    [sitemapPaths.sitemap, async () => found(await site.sitemap(), cacheControl.feed)],
    [sitemapPaths.news, async () => found(await site.newsSitemap(), cacheControl.feed)],
    ...feeds.map(([file, format]): [string, () => Promise<Found | undefined>] => [
      `/${file}`,
      async () => pageOrFeed(await site.feed(format)),
    ]),
  ]);
  const tagFeeds = new Map(feeds);

  return (url) => {
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    const known = exact.get(path);
    if (known !== undefined) return known;
    if (path.includes("%")) return undefined; // express decodes (and refuses) those
    if (path.startsWith("/articles/") && query === -1) {
      const slug = path.slice("/articles/".length);
      if (slug === "" || slug.includes("/")) return undefined;
      return async () => {
        const page = await site.articlePage(slug);
        if (page?.status !== 200) return undefined;
        return found(page.body, cacheControl.page, dressing.negotiatesArticles);
      };
    }
    if (path.startsWith("/tags/")) {
      const [tag, file, ...more] = path.slice("/tags/".length).split("/");
      const format = file === undefined ? undefined : tagFeeds.get(file);
      if (!tag || more.length > 0 || (file !== undefined && format === undefined)) {
        return undefined;
      }
      return async () => {
        if ((await site.canonicalTag(tag)) !== tag) return undefined; // a redirect
        return pageOrFeed(
          format === undefined ? await site.tagPage(tag) : await site.feed(format, tag),
        );
      };
    }
    return undefined;
  };
}

function send(req: IncomingMessage, res: ServerResponse, answer: Found, dressing: Dressing): void {
  const variant = selectVariant(answer.rep, req.headers["accept-encoding"]);
  const notModified = isNotModified(req, answer.rep, variant);
  res.writeHead(notModified ? 304 : 200, headerList(answer, variant, notModified, dressing));
  if (notModified || req.method === "HEAD") res.end();
  else res.end(variant.body);
}

/** By variant, then by kind of answer: the lists of a 200 and of a 304. */
const lists = new WeakMap<Variant, Map<string, [string[]?, string[]?]>>();

/**
 * The whole header list of one answer, in the order express wrote it (see `send` in app.ts
 * and `sendRepresentation`), built once per variant and kind of answer.
 */
function headerList(
  answer: Found,
  variant: Variant,
  notModified: boolean,
  dressing: Dressing,
): string[] {
  let byKind = lists.get(variant);
  if (byKind === undefined) {
    byKind = new Map();
    lists.set(variant, byKind);
  }
  let pair = byKind.get(answer.kind);
  if (pair === undefined) {
    pair = [];
    byKind.set(answer.kind, pair);
  }
  const at = notModified ? 1 : 0;
  let list = pair[at];
  if (list === undefined) {
    list = [
      ...dressing.always,
      ...(answer.rep.contentType.startsWith("text/html")
        ? ["Content-Security-Policy", dressing.contentSecurityPolicy]
        : []),
      ...mergeVary(
        [
          ...(notModified ? variant.notModifiedHeaders : variant.headers),
          "Cache-Control",
          answer.cacheControl,
        ],
        answer.varyAccept ? "Accept" : undefined,
      ),
    ];
    pair[at] = list;
  }
  return list;
}

type Handle = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;
type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** Each app's hot paths, then its router: what `requestListener` hands to `node:http`. */
const listeners = new WeakMap<Express, Listener>();

/**
 * Puts `hot` in front of the whole express app. Express's app function hands every request
 * to `app.handle` (express 5, lib/application.js), whoever created the server (`app.listen`,
 * `http.createServer(app)`), so that is where the hot paths go.
 */
export function answerFirst(app: Express, hot: HotPaths): void {
  const inner = app as Express & { handle?: Handle };
  const handle = inner.handle?.bind(app);
  if (handle === undefined) throw new Error("express has no app.handle: see hot-paths.ts.");
  const listener: Listener = (req, res) => {
    const answered = hot(req, res);
    if (answered === true) return;
    if (answered === false) return handle(req, res);
    answered.then(
      (done) => {
        if (!done) handle(req, res);
      },
      (error: unknown) => {
        if (res.headersSent) res.destroy(error instanceof Error ? error : undefined);
        else handle(req, res);
      },
    );
  };
  inner.handle = (req, res, next) => {
    if (next !== undefined) return handle(req, res, next); // mounted in another app
    listener(req, res);
  };
  listeners.set(app, listener);
}

/**
 * The request listener for a server of `app`: the same as `app` itself, without the two calls
 * before the hot paths (express's app function looks `handle` up, per request, on a function
 * that carries all of express's methods).
 */
export function requestListener(app: Express): Listener {
  return listeners.get(app) ?? app;
}
