/**
 * The federation over real HTTP on 127.0.0.1: mounted with `federationMiddleware()` in a bare
 * express app, talking to a tiny loopback "remote" server that plays a fediverse actor.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  type Federation,
  generateCryptoKeyPair,
  getDocumentLoader,
  InProcessMessageQueue,
  MemoryKvStore,
  signRequest,
  verifyRequest,
} from "@fedify/fedify";
import { CryptographicKey, Endpoints, Follow, Person, Undo } from "@fedify/vocab";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import { createFederationPublisher } from "../../src/federation/delivery/publisher.ts";
import { buildFederation, type FederationOptions } from "../../src/federation/federation.ts";
import type { FollowerStore } from "../../src/federation/followers.ts";
import { loadOrCreateKeys } from "../../src/federation/keys.ts";
import { federationMiddleware } from "../../src/http/federation/mount.ts";
import { urlsInJson } from "../helpers/absolute-urls.ts";
import { makeArticle } from "../helpers/article-fixture.ts";
import { created, memoryArticleStore } from "./fixtures.ts";

const ACTIVITY_JSON = "application/activity+json";
const article = makeArticle();
const removed = makeArticle({ id: "5d1c3b2a-0000-4000-8000-000000000410", slug: "removed" });

interface Received {
  readonly path: string;
  readonly headers: Headers;
  readonly body: string;
}

/** A loopback fediverse actor, `alice`, with a key pair and an inbox that records. */
class RemoteActor {
  readonly received: Received[] = [];
  server!: Server;
  origin!: URL;
  keyPair!: Awaited<ReturnType<typeof generateCryptoKeyPair>>;

  get id(): URL {
    return new URL("/users/alice", this.origin);
  }
  get keyId(): URL {
    return new URL("/users/alice#main-key", this.origin);
  }

  async start(): Promise<void> {
    this.keyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
    this.server = createServer((req, res) => void this.#handle(req, res));
    this.origin = await listen(this.server);
  }

  async #handle(req: IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (req.method === "GET" && req.url === "/users/alice") {
      const person = new Person({
        id: this.id,
        preferredUsername: "alice",
        inbox: new URL("/users/alice/inbox", this.origin),
        endpoints: new Endpoints({ sharedInbox: new URL("/inbox", this.origin) }),
        publicKey: new CryptographicKey({
          id: this.keyId,
          owner: this.id,
          publicKey: this.keyPair.publicKey,
        }),
      });
      res.writeHead(200, { "Content-Type": ACTIVITY_JSON });
      res.end(JSON.stringify(await person.toJsonLd({ format: "compact" })));
      return;
    }
    if (req.method === "POST") {
      this.received.push({ path: req.url ?? "", headers: toHeaders(req), body });
      res.writeHead(202).end();
      return;
    }
    res.writeHead(404).end();
  }

  /** Signs `activity` with alice's key, as Mastodon does (draft-cavage), and posts it. */
  async post(to: URL, activity: Follow | Undo): Promise<Response> {
    const body = JSON.stringify(await activity.toJsonLd({ format: "compact" }));
    const unsigned = new Request(to, {
      method: "POST",
      headers: { "Content-Type": ACTIVITY_JSON },
      body,
    });
    const signed = await signRequest(unsigned, this.keyPair.privateKey, this.keyId, {
      spec: "draft-cavage-http-signatures-12",
    });
    return await fetch(signed);
  }
}

let dir: string;
let db: DatabaseSync;
let herald: Server;
let origin: URL;
let federation: Federation<void>;
let followers: FollowerStore;
let kv: MemoryKvStore;
let options: FederationOptions;
const stopQueue = new AbortController();
const alice = new RemoteActor();

beforeAll(async () => {
  await alice.start();
  dir = await mkdtemp(join(tmpdir(), "herald-http-"));
  db = new DatabaseSync(join(dir, "herald.sqlite"));
  followers = openSqliteFollowerStore(db);
  kv = new MemoryKvStore();
  const store = memoryArticleStore([
    { article, state: "published" },
    { article: removed, state: "deleted" },
  ]);
  const keys = await loadOrCreateKeys(join(dir, "keys"), kv);
  herald = createServer();
  origin = await listen(herald);
  // One options object for the federation and its middleware, as the account supplies it.
  options = { origin, username: "news", allowPrivateAddress: true };
  federation = buildFederation(options, {
    store,
    kv,
    queue: new InProcessMessageQueue(),
    keys,
    followers,
  });
  const app = express();
  app.use(federationMiddleware({ federation, store, kv }, options));
  app.get("/articles/:slug", (_req, res) => void res.type("html").send("<p>The page.</p>"));
  app.use((_req, res) => void res.status(404).type("text").send("Not found.\n"));
  herald.on("request", app);
  void federation.startQueue(undefined, { signal: stopQueue.signal });
});

afterAll(async () => {
  stopQueue.abort();
  await close(herald);
  await close(alice.server);
  db.close();
  await rm(dir, { recursive: true, force: true });
});

const url = (path: string) => new URL(path, origin);
const getJson = async (path: string | URL, accept = ACTIVITY_JSON) => {
  const response = await fetch(typeof path === "string" ? url(path) : path, {
    headers: { Accept: accept },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
};

describe("discovery", () => {
  it("resolves acct:news@HOST:PORT to the actor through WebFinger", async () => {
    const resource = `acct:news@${origin.host}`;
    const jrd = await getJson(
      `/.well-known/webfinger?resource=${encodeURIComponent(resource)}`,
      "application/jrd+json",
    );
    expect(jrd.subject).toBe(resource);
    expect(jrd.links).toContainEqual({
      rel: "self",
      type: ACTIVITY_JSON,
      href: url("/users/news").href,
    });
  });

  it("serves the actor with inbox, outbox, followers, shared inbox and keys", async () => {
    const actor = await getJson("/users/news");
    expect(actor.type).toBe("Service");
    expect(actor.inbox).toBe(url("/users/news/inbox").href);
    expect(actor.outbox).toBe(url("/users/news/outbox").href);
    expect(actor.followers).toBe(url("/users/news/followers").href);
    expect(actor.endpoints).toMatchObject({ sharedInbox: url("/inbox").href });
    const publicKey = actor.publicKey as Record<string, string>;
    expect(publicKey.owner).toBe(url("/users/news").href);
    expect(publicKey.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const methods = actor.assertionMethod as Record<string, string>[];
    expect(methods.map((method) => method.type)).toContain("Multikey");
  });

  it("points NodeInfo discovery at a NodeInfo 2.1 document", async () => {
    const discovery = await getJson("/.well-known/nodeinfo", "application/json");
    const [link] = discovery.links as { rel: string; href: string }[];
    expect(link?.rel).toBe("http://nodeinfo.diaspora.software/ns/schema/2.1");
    const nodeInfo = await getJson(new URL(link?.href ?? ""), "application/json");
    expect(nodeInfo.software).toMatchObject({ name: "herald" });
    expect(nodeInfo.protocols).toEqual(["activitypub"]);
    expect(nodeInfo.usage).toMatchObject({ localPosts: 1 });
  });
});

describe("the inbox", () => {
  const follow = () =>
    new Follow({
      id: new URL(`/follows/${crypto.randomUUID()}`, alice.origin),
      actor: alice.id,
      object: url("/users/news"),
    });

  it("answers 401 to an unsigned activity, on both inboxes", async () => {
    const body = JSON.stringify(await follow().toJsonLd({ format: "compact" }));
    for (const path of ["/users/news/inbox", "/inbox"]) {
      const response = await fetch(url(path), {
        method: "POST",
        headers: { "Content-Type": ACTIVITY_JSON },
        body,
      });
      expect(response.status).toBe(401);
    }
    expect(await followers.count()).toBe(0);
  });

  it("answers 401 to an activity signed by someone else's key", async () => {
    const forged = new Follow({
      id: new URL("/follows/forged", alice.origin),
      actor: new URL("/users/mallory", alice.origin),
      object: url("/users/news"),
    });
    const response = await alice.post(url("/users/news/inbox"), forged as Follow);
    expect(response.status).toBe(401);
  });

  it("answers 400 to a body that is not JSON", async () => {
    const response = await fetch(url("/inbox"), {
      method: "POST",
      headers: { "Content-Type": ACTIVITY_JSON },
      body: "{not json",
    });
    expect(response.status).toBe(400);
  });

  it("answers 413 to a 2 MiB body before reading it", async () => {
    const response = await fetch(url("/users/news/inbox"), {
      method: "POST",
      headers: { "Content-Type": ACTIVITY_JSON },
      body: "x".repeat(2 * 1024 * 1024),
    });
    expect(response.status).toBe(413);
  });

  it("answers 413 to a chunked body once it passes 1 MiB, and keeps serving", async () => {
    const status = await postChunked(url("/inbox"), 2 * 1024 * 1024);
    expect(status).toBe(413);
    expect((await fetch(url("/users/news"), { headers: { Accept: ACTIVITY_JSON } })).status).toBe(
      200,
    );
  });

  it("stores a signed Follow's actor and sends back a signed Accept", async () => {
    const request = follow();
    const response = await alice.post(url("/users/news/inbox"), request);
    expect(response.status).toBe(202);
    await eventually(async () => (await followers.get(alice.id)) != null);
    const follower = await followers.get(alice.id);
    expect(follower?.inbox.href).toBe(new URL("/users/alice/inbox", alice.origin).href);
    expect(follower?.sharedInbox?.href).toBe(new URL("/inbox", alice.origin).href);
    expect(follower?.followId.href).toBe(request.id?.href);

    await eventually(async () => alice.received.some((r) => r.body.includes('"Accept"')));
    const delivery = alice.received.find((r) => r.body.includes('"Accept"'));
    expect(delivery?.path).toBe("/users/alice/inbox");
    const accept = JSON.parse(delivery?.body ?? "{}");
    expect(accept.type).toBe("Accept");
    expect(accept.actor).toBe(url("/users/news").href);
    expect(accept.object.id).toBe(request.id?.href);
    // First knock draft-cavage: a `Signature` header, verifiable with the actor's key.
    expect(delivery?.headers.get("signature")).toMatch(/keyId="/);
    const key = await verifyRequest(
      new Request(new URL(delivery?.path ?? "", alice.origin), {
        method: "POST",
        headers: new Headers(delivery?.headers),
        body: delivery?.body ?? null,
      }),
      { documentLoader: getDocumentLoader({ allowPrivateAddress: true }) },
    );
    expect(key?.ownerId?.href).toBe(url("/users/news").href);
  });

  it("lists the follower, counted, and all at once for FEP-8fcf synchronization", async () => {
    const collection = await getJson("/users/news/followers");
    expect(collection.totalItems).toBe(1);
    const filtered = await getJson(
      `/users/news/followers?base-url=${encodeURIComponent(alice.origin.origin)}`,
    );
    expect(filtered.first).toBeUndefined();
    expect(filtered.orderedItems).toEqual([alice.id.href]);
    // A base-url that is no URL asks for no server's part: the collection, paged as always.
    const unfiltered = await getJson("/users/news/followers?base-url=nonsense");
    expect(unfiltered.totalItems).toBe(1);
    expect(unfiltered.orderedItems).toBeUndefined();
    expect(typeof unfiltered.first).toBe("string");
  });

  it("delivers a new article as a Create to the follower's shared inbox", async () => {
    const publish = createFederationPublisher(
      federation,
      { firstScan: async () => undefined },
      { ...options, quietImport: { firstScan: false } },
    );
    await publish([created(article, 1, article.published)]);
    await eventually(async () => alice.received.some((r) => r.body.includes('"Create"')));
    const delivery = alice.received.find((r) => r.body.includes('"Create"'));
    expect(delivery?.path).toBe("/inbox");
    expect(delivery?.headers.get("collection-synchronization")).toContain("collectionId=");
    const create = JSON.parse(delivery?.body ?? "{}");
    expect(create.object.id).toBe(url(`/objects/${article.id}`).href);
    expect(create.object.type).toBe("Article");
  });

  it("forgets the follower on a signed Undo(Follow)", async () => {
    const follower = await followers.get(alice.id);
    const undo = new Undo({
      id: new URL(`/undo/${crypto.randomUUID()}`, alice.origin),
      actor: alice.id,
      object: new Follow({
        id: follower?.followId ?? null,
        actor: alice.id,
        object: url("/users/news"),
      }),
    });
    expect((await alice.post(url("/inbox"), undo)).status).toBe(202);
    await eventually(async () => (await followers.count()) === 0);
  });
});

describe("one URL for browsers and servers", () => {
  const objectPath = `/objects/${article.id}`;
  const fetchManual = (path: string, accept: string) =>
    fetch(url(path), { headers: { Accept: accept }, redirect: "manual" });

  it("redirects a browser from the object to the article page", async () => {
    const response = await fetchManual(objectPath, "text/html,application/xhtml+xml");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(url("/articles/hello-world").href);
    expect(response.headers.get("vary")).toMatch(/Accept/);
  });

  it("serves the object to servers, varying on Accept", async () => {
    const response = await fetchManual(objectPath, ACTIVITY_JSON);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/activity\+json/);
    expect(response.headers.get("vary")).toMatch(/Accept/);
    const object = (await response.json()) as Record<string, unknown>;
    expect(object.type).toBe("Article");
    expect(object.contentMap).toHaveProperty("de");
  });

  it("redirects servers from the page to the object, and lets browsers have the page", async () => {
    const toObject = await fetchManual("/articles/hello-world", ACTIVITY_JSON);
    expect(toObject.status).toBe(303);
    expect(toObject.headers.get("location")).toBe(url(objectPath).href);
    const page = await fetchManual("/articles/hello-world", "text/html");
    expect(page.status).toBe(200);
    expect(page.headers.get("vary")).toMatch(/Accept/);
    expect(await page.text()).toContain("The page.");
  });

  it("answers 410 with a Tombstone for a deleted article", async () => {
    const response = await fetchManual(`/objects/${removed.id}`, ACTIVITY_JSON);
    expect(response.status).toBe(410);
    const tombstone = (await response.json()) as Record<string, unknown>;
    expect(tombstone.type).toBe("Tombstone");
    expect(tombstone.id).toBe(url(`/objects/${removed.id}`).href);
    expect((await fetchManual(`/objects/${removed.id}`, "text/html")).status).toBe(410);
    expect((await fetchManual("/articles/removed", ACTIVITY_JSON)).status).toBe(410);
  });

  it("sends browsers from the actor to the home page, and other AP paths to the app", async () => {
    const actor = await fetchManual("/users/news", "text/html");
    expect(actor.status).toBe(303);
    expect(actor.headers.get("location")).toBe(url("/").href);
    const outbox = await fetchManual("/users/news/outbox", "text/html");
    expect(outbox.status).toBe(404);
    expect(await outbox.text()).toBe("Not found.\n");
  });

  it("pages the outbox for servers", async () => {
    const outbox = await getJson("/users/news/outbox");
    expect(outbox.totalItems).toBe(1);
    const page = await getJson(new URL(String(outbox.first)));
    expect(page.orderedItems).toMatchObject([
      { type: "Create", object: { id: url(`/objects/${article.id}`).href } },
    ]);
  });

  it("answers 404 for an unknown object, and 500 without dying when the store fails", async () => {
    expect((await fetchManual("/objects/unknown", ACTIVITY_JSON)).status).toBe(404);
    expect((await fetchManual("/objects/explode", ACTIVITY_JSON)).status).toBe(500);
    expect((await fetchManual(objectPath, ACTIVITY_JSON)).status).toBe(200);
  });
});

/**
 * The same federation with `PUBLIC_URL=https://herald.test`, listening on a loopback port as
 * it does behind a TLS proxy: requests arrive over plain http, with whatever `Host` and
 * forwarding headers the proxy (or anyone) sends.
 */
describe("one public origin, whatever the request says", () => {
  const publicOrigin = new URL("https://herald.test");
  let proxied: Server;
  let port: number;
  const stop = new AbortController();

  beforeAll(async () => {
    const store = memoryArticleStore([{ article, state: "published" }]);
    const publicKv = new MemoryKvStore();
    const publicOptions = { origin: publicOrigin, username: "news", allowPrivateAddress: true };
    const publicFederation = buildFederation(publicOptions, {
      store,
      kv: publicKv,
      queue: new InProcessMessageQueue(),
      keys: await loadOrCreateKeys(join(dir, "public-keys"), publicKv),
      followers: openSqliteFollowerStore(db),
    });
    const app = express();
    app.use(
      federationMiddleware({ federation: publicFederation, store, kv: publicKv }, publicOptions),
    );
    proxied = createServer(app);
    port = Number((await listen(proxied)).port);
    void publicFederation.startQueue(undefined, { signal: stop.signal });
  });

  afterAll(async () => {
    stop.abort();
    await close(proxied);
  });

  /** A request to the loopback port as a proxy forwards it: headers as given. */
  const send = (
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port, path, method: body == null ? "GET" : "POST", headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  const hostile = {
    Host: "attacker.example",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Host": "attacker.example",
    Accept: ACTIVITY_JSON,
  };

  it.each([
    "/users/news",
    "/users/news/outbox",
    "/users/news/outbox?cursor=0",
    "/users/news/followers",
    "/users/news/followers?cursor=0",
    `/objects/${article.id}`,
    "/.well-known/nodeinfo",
    "/nodeinfo/2.1", // links nothing, but must still answer
    `/.well-known/webfinger?resource=${encodeURIComponent("acct:news@herald.test")}`,
  ])("serves %s with every URL on PUBLIC_URL's origin, whatever Host says", async (path) => {
    const response = await send(path, hostile);
    expect(response.status).toBe(200);
    const urls = urlsInJson(JSON.parse(response.body));
    if (path !== "/nodeinfo/2.1") expect(urls.length).toBeGreaterThan(0);
    for (const found of urls) expect(new URL(found).origin).toBe(publicOrigin.origin);
  });

  it("pages collections on PUBLIC_URL (first, partOf)", async () => {
    const outbox = JSON.parse((await send("/users/news/outbox", hostile)).body);
    expect(outbox.first).toBe("https://herald.test/users/news/outbox?cursor=0");
    const page = JSON.parse((await send("/users/news/outbox?cursor=0", hostile)).body);
    expect(page.partOf).toBe("https://herald.test/users/news/outbox");
  });

  it("answers WebFinger only for the handle on PUBLIC_URL's host", async () => {
    const webfinger = (acct: string) =>
      send(`/.well-known/webfinger?resource=${encodeURIComponent(acct)}`, hostile);
    expect((await webfinger("acct:news@attacker.example")).status).toBe(404);
    const jrd = JSON.parse((await webfinger("acct:news@herald.test")).body);
    expect(jrd.subject).toBe("acct:news@herald.test");
    expect(jrd.aliases).not.toContain("acct:news@attacker.example");
  });

  it.each([
    ["RFC 9421", "rfc9421", "herald.test"],
    ["draft-cavage", "draft-cavage-http-signatures-12", "herald.test"],
    ["RFC 9421, Host rewritten by the proxy", "rfc9421", "127.0.0.1"],
    ["draft-cavage, Host rewritten by the proxy", "draft-cavage-http-signatures-12", "127.0.0.1"],
  ] as const)("accepts a POST signed (%s) for the public inbox URL", async (_, spec, host) => {
    for (const inbox of ["/users/news/inbox", "/inbox"]) {
      const follow = new Follow({
        id: new URL(`/follows/${crypto.randomUUID()}`, alice.origin),
        actor: alice.id,
        object: new URL("/users/news", publicOrigin),
      });
      const signed = await signRequest(
        new Request(new URL(inbox, publicOrigin), {
          method: "POST",
          headers: { "Content-Type": ACTIVITY_JSON },
          body: JSON.stringify(await follow.toJsonLd({ format: "compact" })),
        }),
        alice.keyPair.privateKey,
        alice.keyId,
        { spec },
      );
      const headers: Record<string, string> = { "X-Forwarded-Proto": "https" };
      signed.headers.forEach((value, name) => {
        headers[name] = value;
      });
      headers.host = host;
      const response = await send(inbox, headers, await signed.text());
      expect(response.status).toBe(202);
    }
  });

  it("refuses a POST signed for another URL", async () => {
    const follow = new Follow({
      id: new URL(`/follows/${crypto.randomUUID()}`, alice.origin),
      actor: alice.id,
      object: new URL("/users/news", publicOrigin),
    });
    const signed = await signRequest(
      new Request(new URL("/inbox", "https://elsewhere.test"), {
        method: "POST",
        headers: { "Content-Type": ACTIVITY_JSON },
        body: JSON.stringify(await follow.toJsonLd({ format: "compact" })),
      }),
      alice.keyPair.privateKey,
      alice.keyId,
      { spec: "rfc9421" },
    );
    const headers: Record<string, string> = {};
    signed.headers.forEach((value, name) => {
      headers[name] = value;
    });
    headers.host = "herald.test";
    expect((await send("/inbox", headers, await signed.text())).status).toBe(401);
  });
});

async function listen(server: Server): Promise<URL> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return new URL(`http://127.0.0.1:${port}`);
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function toHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
  }
  return headers;
}

/** POSTs `bytes` bytes with chunked transfer encoding (no Content-Length); the status. */
function postChunked(target: URL, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(target, {
      method: "POST",
      headers: { "Content-Type": ACTIVITY_JSON, "Transfer-Encoding": "chunked" },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    const write = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition.");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
