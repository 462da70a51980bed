/**
 * The doctor's view of what the world sees through `PUBLIC_URL`: every URL the instance
 * serves is on that origin, and requests signed for the public inbox URLs verify with both
 * signature schemes remote servers use. Behind a misconfigured proxy these are the first
 * things to break (links to `http://`, signatures checked against the proxy's address).
 */
import { randomUUID } from "node:crypto";
import { signRequest } from "@fedify/fedify";
import { readSigningKeys } from "../federation/keys.ts";

export interface Check {
  readonly verdict: "ok" | "warn" | "fail";
  readonly what: string;
  readonly detail: string;
}

export type Get = (url: URL | string, accept: string) => Promise<Response>;

const ACTIVITY_JSON = "application/activity+json";

/** Every absolute http(s) URL a JSON document links to, not its vocabulary (contexts, rels). */
export function linkedUrls(value: unknown, key = ""): string[] {
  if (["@context", "$schema", "rel", "type"].includes(key)) return [];
  if (typeof value === "string") return /^https?:\/\//.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((item) => linkedUrls(item, key));
  if (value == null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([name, item]) => linkedUrls(item, name));
}

/** The absolute URLs of a page's own links: `<link href>`, `<meta content>`, `<a href>` to the site. */
export function pageUrls(html: string): string[] {
  const links = [...html.matchAll(/<link\b[^>]*\bhref="(https?:\/\/[^"]+)"/g)];
  const metas = [...html.matchAll(/<meta\b[^>]*\bproperty="og:url"[^>]*\bcontent="([^"]+)"/g)];
  return [...links, ...metas].map((match) => match[1] ?? "");
}

/**
 * The site at `origin`: on https, answering, calling itself by that origin, with a clock that
 * agrees with this machine's. `false` when it did not answer: nothing more can be checked.
 */
export async function* siteChecks(origin: URL, get: Get): AsyncGenerator<Check, boolean> {
  if (origin.protocol !== "https:" && !isLoopback(origin)) {
    yield fail("HTTPS", `${origin.origin} is plain http: Mastodon only federates over https`);
  } else if (origin.protocol !== "https:") {
    yield warn("HTTPS", "plain http on loopback: fine for testing, not for the fediverse");
  } else {
    yield ok("HTTPS", origin.origin);
  }

  let home: Response;
  try {
    home = await get(origin, "text/html");
  } catch (error) {
    yield fail("PUBLIC_URL reachable", `${origin.origin} did not answer (${describe(error)})`);
    return false;
  }
  yield home.ok
    ? ok("PUBLIC_URL reachable", `GET / answered ${home.status}`)
    : fail("PUBLIC_URL reachable", `GET / answered ${home.status}`);
  const canonical = /<link rel="canonical" href="([^"]+)"/.exec(await home.text())?.[1];
  yield canonical && new URL(canonical).origin === origin.origin
    ? ok("PUBLIC_URL matches", `the site calls itself ${canonical}`)
    : fail(
        "PUBLIC_URL matches",
        `the site calls itself ${canonical ?? "nothing"}; set PUBLIC_URL=${origin.origin} on the server`,
      );

  const serverDate = Date.parse(home.headers.get("date") ?? "");
  const skew = Math.abs(serverDate - Date.now()) / 1000;
  yield Number.isNaN(serverDate)
    ? warn("Clock", "the server sent no Date header")
    : skew < 30
      ? ok("Clock", `server and this machine agree within ${Math.round(skew)} s`)
      : fail(
          "Clock",
          `the server's clock is ${Math.round(skew)} s off: signatures older than an hour are refused`,
        );
  return true;
}

export function isLoopback(origin: URL): boolean {
  return ["localhost", "127.0.0.1", "[::1]"].includes(origin.hostname);
}

/** An error in a few words: its cause's code (ECONNREFUSED) or its message. */
export function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * Fetches the documents remote servers fetch (the actor, WebFinger, the outbox and followers
 * collections with their first pages, the newest object, the home page) and reports any URL
 * in them that is not on `origin`.
 */
export async function publicOriginCheck(
  origin: URL,
  get: Get,
  documents: { readonly webfinger: unknown; readonly actor: Record<string, unknown> },
  newestObject: string | undefined,
): Promise<Check> {
  const found: { where: string; url: string }[] = [];
  const collect = (where: string, urls: string[]) => {
    for (const url of urls) found.push({ where, url });
  };
  collect("WebFinger", linkedUrls(documents.webfinger));
  collect("actor", linkedUrls(documents.actor));
  const fetched: string[] = ["WebFinger", "actor"];
  const fetchJson = async (where: string, url: unknown) => {
    // A link off the origin is reported below, not followed.
    if (typeof url !== "string" || URL.parse(url)?.origin !== origin.origin) return undefined;
    const response = await get(url, ACTIVITY_JSON).catch(() => undefined);
    if (!response?.ok) return undefined;
    const json: unknown = await response.json();
    collect(where, linkedUrls(json));
    fetched.push(where);
    return json as Record<string, unknown>;
  };
  for (const name of ["outbox", "followers"]) {
    const collection = await fetchJson(name, documents.actor[name]);
    await fetchJson(`${name} first page`, collection?.first);
  }
  await fetchJson("newest post", newestObject);
  const home = await get(origin, "text/html");
  if (home.ok) {
    collect("home page", pageUrls(await home.text()));
    fetched.push("home page");
  }
  const foreign = found.filter(({ url }) => URL.parse(url)?.origin !== origin.origin);
  if (foreign.length === 0) {
    return ok("Links", `every URL in ${fetched.join(", ")} is on ${origin.origin}`);
  }
  const examples = foreign.slice(0, 3).map(({ where, url }) => `${where}: ${url}`);
  return fail(
    "Links",
    `${foreign.length} URLs are not on ${origin.origin} (${examples.join("; ")}): set PUBLIC_URL=${origin.origin} and restart`,
  );
}

/**
 * POSTs a harmless activity, signed with the account's own key, to the actor's inbox and the
 * shared inbox through the public URL, once per signature scheme. The instance fetches the
 * key from its own actor and answers 202 when the signature verifies, 401 when it does not
 * (e.g. checked against the proxy's `http://` address instead of the URL that was signed).
 */
export async function signatureChecks(
  keysDir: string,
  actor: Record<string, unknown>,
  options: { readonly canFetchItself: boolean },
): Promise<Check[]> {
  if (!options.canFetchItself) {
    return [
      warn(
        "Signed requests",
        "not checked: an instance on a loopback address fetches its own key only with ALLOW_PRIVATE_ADDRESS=true",
      ),
    ];
  }
  const keys = await readSigningKeys(keysDir).catch(() => undefined);
  const keyId = (actor.publicKey as { id?: unknown } | undefined)?.id;
  const actorId = actor.id;
  if (keys === undefined || typeof keyId !== "string" || typeof actorId !== "string") {
    return [warn("Signed requests", "not checked: run the doctor where the key files are")];
  }
  const endpoints = actor.endpoints as { sharedInbox?: unknown } | undefined;
  const inboxes = [actor.inbox, endpoints?.sharedInbox].filter(
    (inbox): inbox is string => typeof inbox === "string",
  );
  const checks: Check[] = [];
  for (const [name, spec] of [
    ["RFC 9421", "rfc9421"],
    ["draft-cavage", "draft-cavage-http-signatures-12"],
  ] as const) {
    const answers: string[] = [];
    for (const inbox of inboxes) {
      const probe = {
        "@context": "https://www.w3.org/ns/activitystreams",
        id: `${actorId}#doctor-${randomUUID()}`,
        type: "Activity",
        actor: actorId,
      };
      const request = new Request(inbox, {
        method: "POST",
        headers: { "Content-Type": ACTIVITY_JSON },
        body: JSON.stringify(probe),
      });
      try {
        const signed = await signRequest(request, keys.privateKey, new URL(keyId), { spec });
        const response = await fetch(signed, { signal: AbortSignal.timeout(10_000) });
        await response.body?.cancel();
        answers.push(`${inbox} answered ${response.status}`);
      } catch (error) {
        answers.push(`${inbox} failed (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    const accepted = answers.every((answer) => / answered 2\d\d$/.test(answer));
    checks.push(
      accepted
        ? ok(`Signatures (${name})`, `a signed POST to each inbox is accepted`)
        : fail(
            `Signatures (${name})`,
            `${answers.join("; ")}: signatures are checked against another URL than the public one (PUBLIC_URL, proxy)`,
          ),
    );
  }
  return checks;
}

/**
 * The actor's fields newer Mastodon versions read (issue #18): its handle (FEP-2c59
 * `webfinger`, Mastodon 4.6) and the site it vouches for as a creator (`attributionDomains`,
 * Mastodon 4.3 bylines on link cards).
 */
export function actorFieldChecks(
  actor: Readonly<Record<string, unknown>>,
  handle: string,
  host: string,
): Check[] {
  const domains: unknown[] = Array.isArray(actor.attributionDomains)
    ? actor.attributionDomains
    : [];
  return [
    actor.webfinger === handle
      ? ok("Actor handle", `webfinger is ${handle} (FEP-2c59)`)
      : warn(
          "Actor handle",
          `webfinger is ${JSON.stringify(actor.webfinger ?? null)}, not ${handle}`,
        ),
    domains.includes(host)
      ? ok("Author attribution", `the actor vouches for ${host}: shared links can show its byline`)
      : warn(
          "Author attribution",
          `attributionDomains does not list ${host}: shared links show no byline`,
        ),
  ];
}

/** The creators an article page names for link cards (`fediverse:creator`, Mastodon 4.3+). */
export function bylineCheck(pageHtml: string): Check {
  const creators = [...pageHtml.matchAll(/<meta name="fediverse:creator" content="([^"]*)">/g)].map(
    (match) => match[1],
  );
  return creators.length > 0
    ? ok("Byline", `the newest page names ${creators.join(", ")} as its creator for link cards`)
    : warn("Byline", "the newest page has no fediverse:creator: shared links show no byline");
}

export const ok = (what: string, detail: string): Check => ({ verdict: "ok", what, detail });
export const warn = (what: string, detail: string): Check => ({ verdict: "warn", what, detail });
export const fail = (what: string, detail: string): Check => ({ verdict: "fail", what, detail });
