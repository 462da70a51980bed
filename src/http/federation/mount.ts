/**
 * What the express app mounts: the whole federation, in front of everything else.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { Federation, KvStore } from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import { type RequestHandler, Router } from "express";
import { withActorExtensions } from "../../federation/actor-extensions.ts";
import { federationPaths } from "../../federation/federation.ts";
import { DEFAULT_INBOX_BODY_LIMIT, limitInboxBody } from "./body-limit.ts";
import {
  acceptsActivityPub,
  type NegotiationDeps,
  type NegotiationOptions,
  negotiateFederation,
} from "./negotiation.ts";
import { DEFAULT_INBOX_RATE_LIMIT, limitInboxRate } from "./rate-limit.ts";

const logger = getLogger(["herald", "federation", "http"]);

export interface FederationMiddlewareOptions extends NegotiationOptions {
  /** Inbox POST bodies above this get 413 before they are read; default 1 MiB. */
  readonly maxInboxBytes?: number;
  /** Inbox POSTs per minute from one address, and from one server; default 600 (rate-limit.ts). */
  readonly inboxRateLimit?: number;
}

/**
 * The federation as one express router, in this order:
 * 1. inbox POST rate limit per client address and per remote server (429), and body limit
 *    (413), both before Fedify reads the body;
 * 2. content negotiation for articles, objects and the actor (redirects, 410 Tombstones);
 * 3. requests that do not want ActivityStreams skip Fedify (it would answer 406);
 * 4. Fedify itself (`answerWithFedify()`), the actor document with `webfinger` and
 *    `attributionDomains`, kept for a few seconds (actor-extensions.ts).
 * Mount it first, before any body parser: `app.use(federationMiddleware(...))`.
 */
export function federationMiddleware(
  deps: NegotiationDeps & {
    /** The federation's KV store: the actor documents are kept while `movedTo` is the same. */
    readonly kv: KvStore;
  },
  options: FederationMiddlewareOptions,
): Router {
  const router = Router();
  router.post(
    [federationPaths.sharedInbox, expressPath(federationPaths.inbox)],
    limitInboxRate(options.inboxRateLimit ?? DEFAULT_INBOX_RATE_LIMIT),
    limitInboxBody(options.maxInboxBytes ?? DEFAULT_INBOX_BODY_LIMIT),
  );
  router.use(negotiateFederation(deps, options));
  router.use(skipUnlessActivityPub);
  const federation = withActorExtensions(deps.federation, { ...options, kv: deps.kv });
  router.use(answerWithFedify(federation, options.origin));
  return router;
}

/** Browsers and feed readers go straight to the app; WebFinger and NodeInfo are Fedify's. */
const skipUnlessActivityPub: RequestHandler = (req, _res, next) => {
  if (req.method === "POST" || acceptsActivityPub(req) || isDiscovery(req.path)) return next();
  next("router");
};

function isDiscovery(path: string): boolean {
  return path.startsWith("/.well-known/") || path === federationPaths.nodeInfo;
}

/**
 * Fedify at the end of the router: the request handed to `federation.fetch()` as a Fetch
 * `Request` addressed to `origin`, and its `Response` written back with one `writeHead` and
 * one `end`, as the hot paths answer (`http/hot-paths.ts`). A request Fedify has no route for
 * goes on to the app (`next()`).
 *
 * In place of `@fedify/express` 1.10.12's `integrateFederation()`, which Herald used with three
 * fixes around it, and which had a fourth cost no wrapper could fix:
 * - a throwing dispatcher was an unhandled rejection, which ends the process: here it is a 500
 *   (or a 400 for an inbox POST whose activity cannot be read);
 * - a request not for ActivityStreams was handed on (`next()`) and answered with a 406 as
 *   well, which throws once the app has answered: here it gets the 406 alone (the router sends
 *   such requests to the app before they come here);
 * - it built the request URL from the request's scheme and `Host`, which Fedify uses for
 *   collection pages, WebFinger's host check and signature verification: behind a TLS proxy
 *   those say `http://` or a rewritten host, and any client can send a `Host` of its choice.
 *   Here every request is addressed to `PUBLIC_URL` (`fetchRequest()`);
 * - once it had answered, it gave each response six methods of its own (`end`, `send`,
 *   `setHeader`…), so that later writes did nothing. Every such response then had a shape of its
 *   own in Node's HTTP and stream code, which every other request runs through too, the hot
 *   paths' included: V8's log of inline caches (`--log-ic`) counted 69 more megamorphic
 *   property accesses in that code after two seconds of requests for the actor through
 *   `@fedify/express`, and 20 through this handler (issue #17).
 */
export function answerWithFedify(federation: Federation<void>, origin: URL): RequestHandler {
  const answer = async (req: ExpressRequestLike, res: ServerResponse): Promise<boolean> => {
    const response = await fetchSafely(federation, fetchRequest(req, origin));
    if (response === undefined) return false;
    await writeResponse(res, response);
    return true;
  };
  return (req, res, next) => {
    answer(req, res).then(
      (answered) => {
        if (!answered) next();
      },
      (error: unknown) => {
        if (res.headersSent) res.destroy(error instanceof Error ? error : undefined);
        else next(error);
      },
    );
  };
}

/** A request as express hands it on: `originalUrl` is the whole target whatever the mount. */
type ExpressRequestLike = IncomingMessage & { readonly originalUrl?: string };

/** Fedify's answer to `request`, `undefined` when it has no route for it; never a rejection. */
async function fetchSafely(
  federation: Federation<void>,
  request: Request,
): Promise<Response | undefined> {
  let notFound = false;
  const onNotFound = () => {
    notFound = true;
    return new Response(null, { status: 404 });
  };
  try {
    const response = await federation.fetch(request, {
      contextData: undefined,
      onNotFound,
      onNotAcceptable: notAcceptable,
    });
    return notFound ? undefined : response;
  } catch (error) {
    if (request.method === "POST" && isUnreadableInput(error)) {
      logger.warn("Refused a POST to {url}: its activity cannot be read: {error}", {
        url: request.url,
        error: error instanceof Error ? error.message.split("\n")[0] : String(error),
      });
      return new Response("Bad Request: the activity cannot be read.\n", { status: 400 });
    }
    logger.error("Federation failed on {method} {url}: {error}", {
      method: request.method,
      url: request.url,
      error,
    });
    return new Response("Internal Server Error\n", { status: 500 });
  }
}

/**
 * `req` as a Fetch `Request` addressed to `origin`: the same path, query, method, headers and
 * body, on `origin`'s scheme and host, with `Host` set to match. Signatures are then checked
 * against the URL the sender signed for (`@target-uri`, `@authority`, draft-cavage's `host`),
 * since a sender can only have addressed the public URL.
 */
export function fetchRequest(req: ExpressRequestLike, origin: URL): Request {
  const target = req.originalUrl ?? req.url ?? "/";
  // Origin-form (`/path?query`) as sent, so that `//host/path` stays a path; absolute-form
  // (`http://host/path`) by its path and query.
  const absolute = target.startsWith("/") ? undefined : URL.parse(target);
  const path = absolute == null ? target : absolute.pathname + absolute.search;
  const url = new URL(`${origin.origin}${path.startsWith("/") ? path : `/${path}`}`);
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  headers.set("host", url.host);
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  const body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
  // Node's fetch wants `duplex` with a streamed body.
  return new Request(url, { method, headers, body, duplex: "half" });
}

/**
 * `response` on `res`, read whole first (Fedify's bodies are JSON documents and collection
 * pages) so that it goes out with its length; nothing if the app has answered already (an
 * inbox POST refused as too large while Fedify was reading it, `body-limit.ts`).
 */
async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = response.body === null ? undefined : Buffer.from(await response.arrayBuffer());
  if (res.headersSent) return;
  const headers: string[] = [];
  response.headers.forEach((value, name) => {
    headers.push(name, value);
  });
  if (body !== undefined && !response.headers.has("content-length")) {
    headers.push("content-length", String(body.length));
  }
  res.writeHead(response.status, headers);
  res.end(body);
}

/**
 * What Fedify throws while reading an inbox POST's activity (before anything is stored):
 * JSON-LD errors for a broken or unreachable `@context`, type errors for values of the wrong
 * type. The sender's fault, so 400, not 500: a 500 asks the sender to send it again.
 */
function isUnreadableInput(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name.startsWith("jsonld.") ||
      error instanceof TypeError ||
      error instanceof SyntaxError ||
      error instanceof RangeError)
  );
}

function notAcceptable(): Response {
  return new Response("Not Acceptable\n", { status: 406, headers: { Vary: "Accept" } });
}

/** `/users/{identifier}/inbox` → `/users/:identifier/inbox`. */
function expressPath(template: string): string {
  return template.replace(/\{(\w+)\}/g, ":$1");
}
