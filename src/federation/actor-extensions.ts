/**
 * Two actor properties newer Mastodon versions read and Fedify 2.3.6's vocabulary lacks:
 * - `webfinger` (FEP-2c59, Mastodon 4.6): the account's handle without `acct:` or a leading
 *   `@` (`news@news.example`), under the FEP's context
 *   `https://purl.archive.org/socialweb/webfinger`, so a server that has the actor can tell
 *   its handle without guessing it from `preferredUsername` and the host (issue #18.5).
 *   https://codeberg.org/fediverse/fep/src/branch/main/fep/2c59/fep-2c59.md
 * - `attributionDomains` (Mastodon 4.3 author attribution, `toot:attributionDomains`): the
 *   site's host, so pages there that name this account in `fediverse:creator` get a "More
 *   from …" byline on their link cards (issue #18.1).
 *   https://docs.joinmastodon.org/spec/activitypub/#as (Mastodon's `toot:` terms)
 *
 * They are added to the served JSON, and only there: a wrapper around `federation.fetch()`
 * rewrites the account's actor document as it leaves. Nothing else changes: the actor Fedify
 * builds, signs with and reads back is the same, and actor documents carry no proof that an
 * added property would break. Fedify preloads the FEP's context, so Fedify peers read the
 * document without fetching anything; Mastodon's term is defined inline, as Mastodon does.
 * Remove this once `@fedify/vocab`'s actors have both properties.
 *
 * The documents served are also kept for a few seconds (`KEEP_MS`) and sent again as they are.
 * Fedify builds each one anew, 6–7 ms of CPU (its JSON-LD compaction, the public keys exported
 * again): about 150 a second. When a story reaches thousands of servers, those whose copy of
 * the account is old all fetch it at once (Mastodon refreshes a remote account a day after it
 * last did; every server does when the account is new to it): at 10,000 servers, a minute and
 * a half of the process's time before, during which it delivered little else. The one thing in
 * the document that changes while the service runs, `movedTo` (`npm run move`), is read from
 * the KV store for every request, and a document is sent again only for the same value.
 */
import type { Federation, FederationFetchOptions, KvStore } from "@fedify/fedify";
import { federationPaths } from "./federation.ts";
import { readMovedTo } from "./migration.ts";

/** How long a served actor document is sent again as it is (ms). */
export const KEEP_MS = 5000;
/** Kept documents (by actor, `Accept` and `movedTo`); more than this, and they are dropped. */
const KEPT_ENTRIES = 64;

export const WEBFINGER_CONTEXT = "https://purl.archive.org/socialweb/webfinger";
/** Mastodon's own definition of the term (its `context_extensions`). */
export const ATTRIBUTION_DOMAINS_CONTEXT = {
  toot: "http://joinmastodon.org/ns#",
  attributionDomains: { "@id": "toot:attributionDomains", "@type": "@id" },
} as const;

export interface ActorExtensions {
  /** `news@news.example`. */
  readonly webfinger: string;
  /** Host names: `news.example`. */
  readonly attributionDomains: readonly string[];
}

/**
 * `federation`, its account's actor document (and its sections') served with `webfinger` and
 * `attributionDomains`.
 */
export function withActorExtensions(
  federation: Federation<void>,
  options: {
    readonly origin: URL;
    readonly username: string;
    /** The section accounts (`SECTIONS`): their actors get the same properties. */
    readonly sectionIds?: readonly string[];
    /** Where `npm run move` writes the account's `movedTo` (the federation's KV store). */
    readonly kv: KvStore;
  },
): Federation<void> {
  const byPath = new Map<string, ActorExtensions>(
    [options.username, ...(options.sectionIds ?? [])].map((identifier) => [
      federationPaths.actor.replace("{identifier}", encodeURIComponent(identifier)),
      {
        webfinger: `${identifier}@${options.origin.host}`,
        attributionDomains: [options.origin.hostname],
      },
    ]),
  );
  const kept = new Map<string, KeptDocument>();
  const { kv } = options;
  const fetch = async (request: Request, fetchOptions: FederationFetchOptions<void>) => {
    const path = request.method === "GET" ? new URL(request.url).pathname : undefined;
    const extensions = path === undefined ? undefined : byPath.get(path);
    if (extensions === undefined) return federation.fetch(request, fetchOptions);
    const key = `${path}\n${request.headers.get("accept")}\n${(await readMovedTo(kv))?.href}`;
    const document = kept.get(key);
    if (document !== undefined && document.until > Date.now()) return answer(document);
    const response = await extendActor(await federation.fetch(request, fetchOptions), extensions);
    if (response.status !== 200 || !isJsonLd(response)) return response;
    const fresh: KeptDocument = {
      body: await response.text(),
      headers: [...response.headers],
      until: Date.now() + KEEP_MS,
    };
    if (kept.size >= KEPT_ENTRIES) kept.clear();
    kept.set(key, fresh);
    return answer(fresh);
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

interface KeptDocument {
  readonly body: string;
  readonly headers: [string, string][];
  readonly until: number;
}

function answer(document: KeptDocument): Response {
  return new Response(document.body, { status: 200, headers: document.headers });
}

function isJsonLd(response: Response): boolean {
  const type = response.headers.get("content-type") ?? "";
  return /^application\/(activity\+json|ld\+json)/.test(type);
}

/** `response` with the extensions and their contexts added, if it is a JSON-LD object. */
export async function extendActor(
  response: Response,
  extensions: ActorExtensions,
): Promise<Response> {
  if (response.status !== 200 || !isJsonLd(response)) return response;
  const text = await response.text();
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  const document = parseObject(text);
  if (document === undefined) return new Response(text, { status: response.status, headers });
  const { "@context": context, ...rest } = document;
  const contexts = context === undefined ? [] : Array.isArray(context) ? context : [context];
  const body = JSON.stringify({
    "@context": [
      ...contexts,
      ...(contexts.includes(WEBFINGER_CONTEXT) ? [] : [WEBFINGER_CONTEXT]),
      ATTRIBUTION_DOMAINS_CONTEXT,
    ],
    ...rest,
    webfinger: extensions.webfinger,
    attributionDomains: extensions.attributionDomains,
  });
  return new Response(body, { status: response.status, headers });
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
