/**
 * The actor document's `webfinger` property (FEP-2c59, read by Mastodon 4.6): the account's
 * handle without `acct:` or a leading `@` (`news@news.example`), under the FEP's context
 * `https://purl.archive.org/socialweb/webfinger`, so a server that has the actor can tell its
 * handle without guessing it from `preferredUsername` and the host.
 * https://codeberg.org/fediverse/fep/src/branch/main/fep/2c59/fep-2c59.md
 *
 * Fedify 2.3.6's vocabulary has no such property, so it is added to the served JSON, and
 * only there: a wrapper around `federation.fetch()` that rewrites the account's actor
 * document as it leaves. Nothing else changes: the actor Fedify builds, signs with and reads
 * back is the same, and actor documents carry no proof that an added property would break.
 * Fedify preloads the FEP's context, so Fedify peers read the document without fetching it.
 * Remove this once `@fedify/vocab`'s actors have a `webfinger` property.
 */
import type { Federation, FederationFetchOptions } from "@fedify/fedify";
import { DEFAULT_USERNAME } from "./actor.ts";
import { federationPaths } from "./federation.ts";

export const WEBFINGER_CONTEXT = "https://purl.archive.org/socialweb/webfinger";

/** `federation`, its account's actor document served with `webfinger`. */
export function withActorWebfinger(
  federation: Federation<void>,
  options: { readonly origin: URL; readonly username?: string },
): Federation<void> {
  const username = options.username ?? DEFAULT_USERNAME;
  const actorPath = federationPaths.actor.replace("{identifier}", encodeURIComponent(username));
  const handle = `${username}@${options.origin.host}`;
  const fetch = async (request: Request, fetchOptions: FederationFetchOptions<void>) => {
    const response = await federation.fetch(request, fetchOptions);
    const isActor = request.method === "GET" && new URL(request.url).pathname === actorPath;
    return isActor ? addWebfinger(response, handle) : response;
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

/** `response` with `webfinger` and its context added, if it is a JSON-LD object. */
export async function addWebfinger(response: Response, handle: string): Promise<Response> {
  const type = response.headers.get("content-type") ?? "";
  if (response.status !== 200 || !/^application\/(activity\+json|ld\+json)/.test(type)) {
    return response;
  }
  const text = await response.text();
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  const document = parseObject(text);
  if (document === undefined) return new Response(text, { status: response.status, headers });
  const { "@context": context, ...rest } = document;
  const contexts = context === undefined ? [] : Array.isArray(context) ? context : [context];
  const body = JSON.stringify({
    "@context": contexts.includes(WEBFINGER_CONTEXT) ? contexts : [...contexts, WEBFINGER_CONTEXT],
    ...rest,
    webfinger: handle,
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
