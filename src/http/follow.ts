/**
 * One-click follow from the site (issue #18.4): the follow box's form sends the reader's
 * server or handle here (`GET /follow?account=…`, a plain form: the CSP allows no script),
 * and Herald redirects them to the page of their own server where they follow the account.
 *
 * Which page: for a handle, the Follow intent their server advertises in its WebFinger
 * answer (FEP-3b86 Activity Intents, https://w3id.org/fep/3b86: rel
 * `https://w3id.org/fep/3b86/Follow`, a `template` with `{object}`), else its OStatus
 * subscribe template (`{uri}`), else Mastodon's `https://server/authorize_interaction?uri=`.
 * For a bare server name there is no account to ask about (intents are per account), so
 * straight to `authorize_interaction`.
 *
 * The WebFinger request goes to a host the reader typed: it passes the same check as
 * deliveries (Fedify's `validatePublicUrl()`: no loopback, private or link-local address
 * unless `ALLOW_PRIVATE_ADDRESS`), follows no redirect, gives up after a few seconds, and
 * any failure falls back to `authorize_interaction`. Requests are rate-limited per client
 * address, so the endpoint cannot be used to make Herald knock on doors in bulk.
 */
import { validatePublicUrl } from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import type { Request, RequestHandler, Response } from "express";
import { TokenBuckets } from "./federation/rate-limit.ts";

const logger = getLogger(["herald", "http", "follow"]);

export const FOLLOW_INTENT = "https://w3id.org/fep/3b86/Follow";
export const OSTATUS_SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe";

/** Short: the reader is waiting for the redirect. */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 5_000;
/** Lookups per minute from one client address: a reader follows once, not twenty times. */
export const DEFAULT_FOLLOW_RATE_LIMIT = 20;

/** What the reader typed, checked: their server, and their username there if they gave it. */
export interface FollowTarget {
  /** Lower-case host name, with `:port` if they typed one. */
  readonly host: string;
  readonly user?: string;
}

export interface FollowOptions {
  /** The account to follow (its actor URL). */
  readonly actor: URL;
  /** The section accounts' actor URLs, by section id: the form's `section` picks one. */
  readonly sections?: ReadonlyMap<string, URL>;
  /** `ALLOW_PRIVATE_ADDRESS` (tests only): look up loopback and private hosts too. */
  readonly allowPrivateAddress: boolean;
  readonly timeoutMs?: number;
  /** Per client address; default `DEFAULT_FOLLOW_RATE_LIMIT`. */
  readonly perMinute?: number;
  readonly now?: () => number;
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
/** Two labels at least (`mastodon.social`), an optional port. */
const HOST = new RegExp(`^${LABEL}(?:\\.${LABEL})+(?::\\d{1,5})?$`);
const USER = /^[a-z0-9_][a-z0-9_.-]{0,63}$/i;

/**
 * `mastodon.social`, `@me@mastodon.social` or `me@mastodon.social` (spaces around it are
 * fine; internationalised names are taken as their punycode); anything else is undefined.
 */
export function parseFollowTarget(input: string): FollowTarget | undefined {
  const text = input.trim().replace(/^@/, "");
  if (text.length === 0 || text.length > 300) return undefined;
  const at = text.lastIndexOf("@");
  const user = at === -1 ? undefined : text.slice(0, at);
  if (user !== undefined && !USER.test(user)) return undefined;
  const typed = text.slice(at + 1);
  // The URL parser lower-cases, and turns `bücher.example` into `xn--bcher-kva.example`.
  const url = /[/?#\\\s]/.test(typed) ? null : URL.parse(`https://${typed}`);
  if (url === null || url.username !== "" || url.password !== "") return undefined;
  if (!HOST.test(url.host)) return undefined;
  return user === undefined ? { host: url.host } : { host: url.host, user };
}

/** Mastodon's remote interaction page: on `host`, for the account `actor`. */
export function authorizeInteractionUrl(host: string, actor: URL): URL {
  const url = new URL(`https://${host}/authorize_interaction`);
  url.searchParams.set("uri", actor.href);
  return url;
}

/**
 * The page of the reader's server where they follow `actor` (see the top of this file).
 * Never throws: whatever fails, `authorize_interaction` is the answer.
 */
export async function findFollowPage(
  target: FollowTarget,
  actor: URL,
  options: Pick<FollowOptions, "allowPrivateAddress" | "timeoutMs">,
): Promise<URL> {
  const fallback = authorizeInteractionUrl(target.host, actor);
  if (target.user === undefined) return fallback;
  const resource = `acct:${target.user}@${target.host}`;
  const url = new URL(`https://${target.host}/.well-known/webfinger`);
  url.searchParams.set("resource", resource);
  try {
    if (!options.allowPrivateAddress) await validatePublicUrl(url.href);
    const response = await fetch(url, {
      headers: { Accept: "application/jrd+json, application/json" },
      redirect: "manual", // a redirect could lead anywhere, unchecked
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const page = intentFromJrd(await response.json(), actor, options.allowPrivateAddress);
    if (page !== undefined) return page;
    logger.debug("{resource} advertises no follow intent; using authorize_interaction.", {
      resource,
    });
  } catch (error) {
    logger.info("Follow intent lookup for {resource} failed: {error}", {
      resource,
      error: error instanceof Error ? error.message : String(error),
    });
  }
  return fallback;
}

/**
 * The Follow intent (else the OStatus subscribe template) of a JRD, filled in for `actor`.
 * Only an `https:` result is taken (`http:` too with `allowHttp`, for tests): a template
 * must not make Herald redirect a reader to `javascript:` or the like.
 */
export function intentFromJrd(jrd: unknown, actor: URL, allowHttp = false): URL | undefined {
  const links = (jrd as { links?: unknown } | null)?.links;
  if (!Array.isArray(links)) return undefined;
  const templateOf = (rel: string): string | undefined => {
    const link = links.find(
      (l): l is { template?: unknown; href?: unknown } =>
        typeof l === "object" && l !== null && (l as { rel?: unknown }).rel === rel,
    );
    // Some servers put the template in `href` (seen in the FEP's own examples).
    const template = link?.template ?? link?.href;
    return typeof template === "string" ? template : undefined;
  };
  const candidates: [string | undefined, string][] = [
    [templateOf(FOLLOW_INTENT), "object"],
    [templateOf(OSTATUS_SUBSCRIBE), "uri"],
  ];
  for (const [template, variable] of candidates) {
    if (template === undefined || !template.includes(`{${variable}}`)) continue;
    const url = URL.parse(expandTemplate(template, { [variable]: actor.href }));
    if (url?.protocol === "https:" || (allowHttp && url?.protocol === "http:")) return url;
  }
  return undefined;
}

/**
 * RFC 6570 simple expansion (`{name}`): values percent-encoded, variables we do not
 * know (`{on-success}`, `{on-cancel}`) left empty, as the RFC says of undefined ones.
 */
function expandTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{([^{}]*)\}/g, (_, name: string) =>
    encodeURIComponent(values[name] ?? ""),
  );
}

/**
 * The account the form follows: the main one, or with `section=` that section's.
 */
function followedActor(options: FollowOptions, section: unknown): URL | undefined {
  if (section === undefined) return options.actor;
  return typeof section === "string" ? options.sections?.get(section) : undefined;
}

/**
 * `GET /follow?account=…[&section=…]`: a redirect (303) to the reader's follow page; `refuse` answers
 * input that is neither a server nor a handle (a page in the site's language, 400).
 */
export function followRoute(
  options: FollowOptions,
  refuse: (req: Request, res: Response) => Promise<void>,
): RequestHandler {
  const perMinute = options.perMinute ?? DEFAULT_FOLLOW_RATE_LIMIT;
  const buckets = new TokenBuckets(perMinute);
  const now = options.now ?? Date.now;
  return async (req, res) => {
    const account = req.query.account;
    const target = typeof account === "string" ? parseFollowTarget(account) : undefined;
    const actor = followedActor(options, req.query.section);
    if (target === undefined || actor === undefined) {
      await refuse(req, res);
      return;
    }
    const address = req.ip ?? req.socket.remoteAddress ?? "?";
    const wait = buckets.wait(address, now());
    if (wait > 0) {
      res
        .status(429)
        .set("Retry-After", String(Math.ceil(wait / 1000)))
        .type("text/plain")
        .send("Too many requests; try again in a minute.\n");
      return;
    }
    buckets.take(address);
    const page = await findFollowPage(target, actor, options);
    res.setHeader("Cache-Control", "no-store");
    res.redirect(303, page.href);
  };
}
