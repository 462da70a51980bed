/**
 * What the express app mounts: the whole federation, in front of everything else.
 */
import { integrateFederation } from "@fedify/express";
import type { Federation, FederationFetchOptions, KvStore } from "@fedify/fedify";
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
 * 4. Fedify itself through `@fedify/express`, the actor document with `webfinger` and
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
  router.use(integrateFederation(crashSafe(federation, options.origin), () => undefined));
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
 * The federation as `@fedify/express` 1.10.12 needs it, with three fixes:
 * - It awaits `federation.fetch()` without a `catch`: one throwing dispatcher is an
 *   unhandled rejection, which ends the process. This Fedify answers 500 instead.
 * - On a request that is not for ActivityStreams it calls `next()` and then writes its own
 *   406 too, which throws once the app has answered. This one answers 406 without handing
 *   the request on (step 3 already sent those requests to the app).
 * - It builds the request URL from the request's scheme and `Host`, which Fedify uses for
 *   collection pages (`first`, `next`, `partOf`), WebFinger's host check and signature
 *   verification. Behind a TLS proxy those say `http://` or a rewritten host, and any
 *   client can send a `Host` of its choice. Every request is therefore re-addressed to
 *   `origin` (`PUBLIC_URL`) first (`onPublicOrigin()`).
 * Remove the first two once `@fedify/express` catches and stops after `next()` (its
 * `integrateFederation()`, dist/index.js; the `next()` trick is explained in
 * fedify-dev/fedify#111). The third stays whatever `@fedify/express` does: Fedify is handed the URL
 * `PUBLIC_URL` names, never one a proxy or client made up.
 * The Proxy, rather than a plain object, because `integrateFederation()` wants a whole
 * `Federation` and Fedify's methods use private fields (so they are bound to the real one).
 */
export function crashSafe(federation: Federation<void>, origin: URL): Federation<void> {
  const fetch = async (received: Request, options: FederationFetchOptions<void>) => {
    const request = onPublicOrigin(received, origin);
    try {
      return await federation.fetch(request, { ...options, onNotAcceptable: notAcceptable });
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
  };
  return new Proxy(federation, {
    get: (target, property) => {
      if (property === "fetch") return fetch;
      const value: unknown = Reflect.get(target, property, target);
      // Fedify's methods use private fields: call them on the real object.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * `request` as addressed to `origin`: the same path, query, method, headers and body, on
 * `origin`'s scheme and host, with `Host` set to match. Signatures are then checked against
 * the URL the sender signed for (`@target-uri`, `@authority`, draft-cavage's `host`), since
 * a sender can only have addressed the public URL.
 */
export function onPublicOrigin(request: Request, origin: URL): Request {
  const received = new URL(request.url);
  const url = new URL(received.pathname + received.search, origin);
  if (url.href === request.url && request.headers.get("host") === origin.host) return request;
  const headers = new Headers(request.headers);
  headers.set("host", url.host);
  return new Request(url, {
    method: request.method,
    headers,
    body: request.body,
    duplex: "half", // required by Node's fetch for a streamed body
  });
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
