/**
 * Issue #12, "Deployed for real": Herald behind the README's TLS proxies (nginx, Caddy, and an
 * nginx that sends its own `Host`), and reached directly with a foreign `Host` and forged
 * `X-Forwarded-*`. Whatever the route, every URL Herald serves is on `PUBLIC_URL`, and a
 * signature made for the public inbox URL verifies (RFC 9421 and draft-cavage) while one made
 * for another target does not.
 */

import { randomUUID, type webcrypto } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type HttpMessageSignaturesSpec, signRequest } from "@fedify/fedify";
import { type Agent, request as undiciRequest } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offOrigin, urlsInJson, urlsInMarkup } from "../helpers/absolute-urls.ts";
import { isObject } from "../helpers/fake-remote/activitypub.ts";
import {
  type FakeRemote,
  loadFixtureCryptoKey,
  loadFixtureKeyPair,
  startFakeRemote,
} from "../helpers/fake-remote.ts";
import { type HeraldProcess, makeFolders, spawnHerald } from "../helpers/herald-spawn.ts";
import {
  createTestCa,
  heraldTlsEnv,
  type ProxyKind,
  type ReverseProxy,
  skipUnlessRoot,
  startReverseProxy,
  type TestCa,
  testAgent,
} from "../helpers/tls-proxy.ts";

const PUBLIC = new URL("https://herald.test");
const ACTOR = new URL("/users/news", PUBLIC);
const INBOX = new URL("/users/news/inbox", PUBLIC);
const SHARED_INBOX = new URL("/inbox", PUBLIC);
const AS_JSON = "application/activity+json";
/** 21 articles: the outbox's first page (20) has a next page. */
const ARTICLE_COUNT = 21;

/**
 * Each proxy on a loopback address of this file's own (not TEST_HOSTS.herald's 127.0.0.2), so
 * the snac2 suite can put herald.test behind its proxy at the same time; the test client
 * resolves herald.test to the proxy under test.
 */
const PROXIES: Readonly<Record<ProxyKind, string>> = {
  nginx: "127.0.0.11",
  caddy: "127.0.0.12",
  "nginx-host-rewrite": "127.0.0.13",
};

/** What Herald answered. */
interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** One way of reaching Herald: takes a request for a `https://herald.test` URL. */
type Route = (request: Request) => Promise<Answer>;

const skip = skipUnlessRoot("tests/e2e/proxy.test.ts");

describe.skipIf(skip)("Herald behind a TLS proxy (issue #12)", () => {
  let ca: TestCa;
  let herald: HeraldProcess;
  let remote: FakeRemote;
  let signingKey: webcrypto.CryptoKey;
  const proxies: ReverseProxy[] = [];
  const agents: Agent[] = [];
  let folders: ReturnType<typeof makeFolders>;
  const routes = new Map<string, Route>();

  beforeAll(async () => {
    folders = makeFolders();
    for (let day = 1; day <= ARTICLE_COUNT; day++) {
      const date = `2026-01-${String(day).padStart(2, "0")}T08:00:00Z`;
      writeFileSync(
        join(folders.articles, `day-${day}.md`),
        `---\ntitle: Day ${day}\ndate: ${date}\ntags: [news]\n---\nWhat happened on day ${day}.\n`,
      );
    }
    ca = await createTestCa();
    const keyPair = loadFixtureKeyPair();
    [herald, remote, signingKey] = await Promise.all([
      spawnHerald(folders, { env: { PUBLIC_URL: PUBLIC.origin, ...heraldTlsEnv(ca) } }),
      startFakeRemote({ keyPair }),
      loadFixtureCryptoKey(),
    ]);
    const certificate = await ca.certificate(PUBLIC.hostname);
    for (const [kind, address] of Object.entries(PROXIES) as [ProxyKind, string][]) {
      const proxy = await startReverseProxy(kind, {
        name: PUBLIC.hostname,
        address,
        backendPort: herald.port,
        certificate,
      });
      proxies.push(proxy);
      const agent = testAgent(ca.certPem, { [PUBLIC.hostname]: address });
      agents.push(agent);
      routes.set(kind, (request) => viaProxy(request, agent));
    }
    routes.set("direct", (request) => direct(request, herald.port));
  }, 120_000); // a Herald start under a full parallel suite can take a minute

  afterAll(async () => {
    await Promise.all([
      ...agents.map((agent) => agent.close()),
      ...proxies.map((proxy) => proxy.stop()),
      remote?.close(),
      herald?.stop(),
    ]);
    await ca?.remove();
    folders?.remove();
  }, 30_000);

  const routeNames = [...Object.keys(PROXIES), "direct"];

  describe.each(routeNames)("reached through %s", (routeName) => {
    // Looked up per call: beforeAll fills `routes` after the tests are collected.
    const send: Route = (request) => (routes.get(routeName) as Route)(request);
    const get = (url: URL | string, accept = AS_JSON) =>
      send(new Request(new URL(url, PUBLIC), { headers: { accept } }));
    const getJson = async (url: URL | string, accept = AS_JSON) => {
      const answer = await get(url, accept);
      expect(answer.status, `${url}: ${answer.body}`).toBe(200);
      return JSON.parse(answer.body) as Record<string, unknown>;
    };
    /** Every absolute URL of a JSON document is on https://herald.test (`allowed` aside). */
    const expectOnPublicOrigin = (urls: readonly string[], allowed: readonly string[] = []) => {
      const foreign = offOrigin(urls, PUBLIC).filter(
        (url) => !allowed.some((prefix) => url.startsWith(prefix)),
      );
      expect(foreign).toEqual([]);
      expect(urls.length).toBeGreaterThan(0);
    };

    it("accepts a Follow signed for the public inbox URLs with RFC 9421 and draft-cavage, and refuses one signed for another target", async () => {
      const specs: HttpMessageSignaturesSpec[] = ["rfc9421", "draft-cavage-http-signatures-12"];
      const post = async (spec: HttpMessageSignaturesSpec, signedFor: URL, sentTo: URL) => {
        const follow = {
          "@context": "https://www.w3.org/ns/activitystreams",
          id: new URL(`/follows/${randomUUID()}`, remote.origin).href,
          type: "Follow",
          actor: remote.actorUrl().href,
          object: ACTOR.href,
        };
        const signed = await signRequest(
          new Request(signedFor, {
            method: "POST",
            headers: { "content-type": AS_JSON, accept: AS_JSON },
            body: JSON.stringify(follow),
          }),
          signingKey,
          remote.keyId(),
          { spec },
        );
        // Same headers and body, sent to `sentTo`.
        const answer = await send(
          new Request(sentTo, {
            method: "POST",
            headers: signed.headers,
            body: await signed.text(),
          }),
        );
        if (answer.status === 202) accepted.push(follow.id);
        return `${spec} ${answer.status}`;
      };
      const accepted: string[] = [];
      for (const spec of specs) {
        for (const inbox of [INBOX, SHARED_INBOX]) {
          expect(await post(spec, inbox, inbox), `signed for ${inbox}`).toBe(`${spec} 202`);
        }
        // Signed for another path, and for another host, of the same server.
        expect(await post(spec, SHARED_INBOX, INBOX), "signed for /inbox").toBe(`${spec} 401`);
        const elsewhere = new URL(INBOX.pathname, "https://attacker.example");
        expect(await post(spec, elsewhere, INBOX), `signed for ${elsewhere}`).toBe(`${spec} 401`);
      }
      // RFC 9421 signs the scheme too (`@target-uri`): the public URL is https.
      const plain = new URL(INBOX.pathname, `http://${PUBLIC.host}`);
      expect(await post("rfc9421", plain, INBOX), `signed for ${plain}`).toBe("rfc9421 401");
      // Accepted means processed: Herald answers each Follow with an Accept. (The fake remote
      // cannot fetch https://herald.test to verify it; that it arrives is enough here.)
      const acceptedFollows = () =>
        remote
          .received({ type: "Accept" })
          .map(({ activity }) =>
            isObject(activity?.object) ? activity.object.id : activity?.object,
          );
      await expect
        .poll(acceptedFollows, { timeout: 10_000 })
        .toEqual(expect.arrayContaining(accepted));
    });

    it("resolves acct:news@herald.test with WebFinger, and no other host", async () => {
      const webfinger = (resource: string) =>
        `/.well-known/webfinger?resource=${encodeURIComponent(resource)}`;
      const jrd = await getJson(webfinger("acct:news@herald.test"), "application/jrd+json");
      expect(jrd.subject).toBe("acct:news@herald.test");
      expect(jrd.links).toContainEqual(
        expect.objectContaining({ rel: "self", type: AS_JSON, href: ACTOR.href }),
      );
      expectOnPublicOrigin(urlsInJson(jrd));
      for (const resource of ["acct:news@attacker.example", "acct:news@127.0.0.1"]) {
        expect((await get(webfinger(resource), "application/jrd+json")).status, resource).toBe(404);
      }
    });

    it("serves the actor, NodeInfo, the outbox and the followers with every URL on https://herald.test", async () => {
      const actor = await getJson(ACTOR);
      expect(actor.id).toBe(ACTOR.href);
      expect(actor).toMatchObject({
        inbox: INBOX.href,
        endpoints: { sharedInbox: SHARED_INBOX.href },
      });
      expectOnPublicOrigin(urlsInJson(actor));

      const discovery = await getJson("/.well-known/nodeinfo", "application/json");
      expectOnPublicOrigin(urlsInJson(discovery));
      const links = discovery.links as { href: string }[];
      // NodeInfo names the software's own homepage and repository: those are not ours.
      const nodeInfo = await getJson(links[0]?.href ?? "", "application/json");
      const software = nodeInfo.software as { homepage?: string; repository?: string };
      expect(
        offOrigin(urlsInJson(nodeInfo), PUBLIC).filter(
          (url) => url !== software.homepage && url !== software.repository,
        ),
      ).toEqual([]);

      const outbox = await getJson(String(actor.outbox));
      expect(outbox.id).toBe(new URL("/users/news/outbox", PUBLIC).href);
      expectOnPublicOrigin(urlsInJson(outbox));
      const first = await getJson(String(outbox.first));
      expect(first).toMatchObject({ partOf: outbox.id });
      expect(first.next).toEqual(expect.any(String));
      expectOnPublicOrigin(urlsInJson(first));
      const second = await getJson(String(first.next));
      expect(second).toMatchObject({ partOf: outbox.id, prev: first.id });
      expectOnPublicOrigin(urlsInJson(second));

      // The Follows of the first test made the fake remote a follower: its actor URL is not ours.
      const followers = await getJson(String(actor.followers));
      expectOnPublicOrigin(urlsInJson(followers));
      const followersPage = await getJson(String(followers.first));
      expect(followersPage).toMatchObject({ partOf: followers.id });
      expect(followersPage.orderedItems).toContain(remote.actorUrl().href);
      expectOnPublicOrigin(urlsInJson(followersPage), [remote.origin.href]);
    });

    it("serves an article's object and page, the home page and the feeds with every URL on https://herald.test", async () => {
      // Links are followed by their path on https://herald.test: the test above checks them.
      const onPublic = (url: unknown) => {
        const { pathname, search } = new URL(String(url), PUBLIC);
        return new URL(`${pathname}${search}`, PUBLIC);
      };
      const outbox = await getJson("/users/news/outbox");
      const first = await getJson(onPublic(outbox.first));
      const [create] = first.orderedItems as { object: string | { id: string } }[];
      const objectId = typeof create?.object === "string" ? create.object : create?.object.id;
      const object = await getJson(onPublic(objectId));
      expect(object.id).toBe(onPublic(objectId).href);
      expectOnPublicOrigin(urlsInJson(object));

      const html = "text/html";
      for (const path of [onPublic(object.url).pathname, "/", "/tags/news"]) {
        const page = await get(path, html);
        expect(page.status, path).toBe(200);
        expectOnPublicOrigin(urlsInMarkup(page.body, new URL(path, PUBLIC)));
      }
      const home = (await get("/", html)).body;
      expect(home).toContain('<link rel="canonical" href="https://herald.test/">');
      expect(home).toContain('<meta property="og:url" content="https://herald.test/">');
      const alternates = home.match(/<link rel="alternate"[^>]*>/g) ?? [];
      for (const [type, path] of [
        ["application/rss+xml", "/feed.xml"],
        ["application/atom+xml", "/atom.xml"],
        ["application/feed+json", "/feed.json"],
      ]) {
        const [kind, href] = [`type="${type}"`, `href="https://herald.test${path}"`];
        const found = alternates.filter((tag) => tag.includes(kind) && tag.includes(href));
        expect(found, `${kind} ${href}`).toHaveLength(1);
      }
      const articlePage = (await get(onPublic(object.url).pathname, html)).body;
      expect(articlePage).toContain(`<link rel="canonical" href="${object.url}">`);
      expect(articlePage).toContain(`<meta property="og:url" content="${object.url}">`);

      for (const [path, type] of [
        ["/feed.xml", "application/rss+xml"],
        ["/atom.xml", "application/atom+xml"],
      ]) {
        const feed = await get(String(path), String(type));
        expect(feed.status, path).toBe(200);
        expect(feed.body).toContain(`href="https://herald.test${path}"`);
        expectOnPublicOrigin(urlsInMarkup(feed.body, new URL(String(path), PUBLIC)));
      }
      const jsonFeed = await getJson("/feed.json", "application/feed+json");
      expect(jsonFeed.feed_url).toBe("https://herald.test/feed.json");
      expectOnPublicOrigin(urlsInJson(jsonFeed));

      const sitemap = await get("/sitemap.xml", "application/xml");
      const locs = [...sitemap.body.matchAll(/<loc>([^<]*)<\/loc>/g)].map((m) => m[1]);
      expect(locs).toContain(object.url);
      expect(locs.filter((loc) => !loc?.startsWith("https://herald.test/"))).toEqual([]);
      expect((await get("/news-sitemap.xml", "application/xml")).status).toBe(200);
      const robots = (await get("/robots.txt", "text/plain")).body;
      expect(robots).toContain("Sitemap: https://herald.test/sitemap.xml\n");
    });
  });
});

/** Through a proxy, over HTTPS, with the `Host` the URL gives, as any client sends. */
function viaProxy(request: Request, agent: Agent): Promise<Answer> {
  return send(request, new URL(request.url), { host: PUBLIC.host }, agent);
}

/**
 * Straight to Herald's port, as a client that bypassed the proxy would, with a foreign `Host`
 * and forged forwarding headers: none of them may leak into what Herald serves or verifies.
 */
function direct(request: Request, port: number): Promise<Answer> {
  const { pathname, search } = new URL(request.url);
  return send(request, new URL(`${pathname}${search}`, `http://127.0.0.1:${port}`), {
    host: "attacker.example",
    "x-forwarded-host": "attacker.example",
    "x-forwarded-proto": "http",
    forwarded: "host=attacker.example;proto=http",
  });
}

/**
 * `request`'s method, headers and body, sent to `url` with `headers` on top. undici's `request`,
 * not `fetch`: `fetch` replaces a given `Host` and adds headers of its own.
 */
async function send(
  request: Request,
  url: URL,
  headers: Record<string, string>,
  dispatcher?: Agent,
): Promise<Answer> {
  const response = await undiciRequest(url, {
    method: request.method === "POST" ? "POST" : "GET",
    headers: { ...Object.fromEntries(request.headers), ...headers },
    body: request.method === "POST" ? await request.text() : null,
    ...(dispatcher ? { dispatcher } : {}),
  });
  const contentType = response.headers["content-type"];
  return {
    status: response.statusCode,
    contentType: typeof contentType === "string" ? contentType : "",
    body: await response.body.text(),
  };
}
