/**
 * The actor's added properties over real HTTP on 127.0.0.1, as a Mastodon-like server fetches
 * them (signed GET): FEP-2c59 `webfinger` (issue #18.5) and `attributionDomains` (#18.1);
 * Fedify's own reading of that document and of signatures made with its key; NodeInfo's
 * `metadata` (#18.5); the document kept for a burst of fetches, and a move shown at once
 * (issue #17.3).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DatabaseSync } from "node:sqlite";
import {
  type Federation,
  type FederationFetchOptions,
  getDocumentLoader,
  InProcessMessageQueue,
  MemoryKvStore,
  signRequest,
  verifyRequest,
} from "@fedify/fedify";
import { Service } from "@fedify/vocab";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import {
  ATTRIBUTION_DOMAINS_CONTEXT,
  extendActor,
  WEBFINGER_CONTEXT,
} from "../../src/federation/actor-extensions.ts";
import { buildFederation, type FederationOptions } from "../../src/federation/federation.ts";
import type { AccountKeys } from "../../src/federation/keys.ts";
import { MOVED_TO_KEY, saveMovedTo } from "../../src/federation/migration.ts";
import { toNodeInfo } from "../../src/federation/nodeinfo.ts";
import { federationMiddleware } from "../../src/http/federation/mount.ts";
import { makeArticle } from "../helpers/article-fixture.ts";
import { type FakeRemote, loadFixtureKeyPair, startFakeRemote } from "../helpers/fake-remote.ts";
import { accountKeys, memoryArticleStore } from "./fixtures.ts";

let herald: Server;
let origin: URL;
let keys: AccountKeys;
let federation: Federation<void>;
let remote: FakeRemote;
let kv: MemoryKvStore;
/** How many actor requests reached Fedify (and were built anew). */
let built = 0;
const actorUrl = () => new URL("/users/news", origin);

beforeAll(async () => {
  herald = createServer();
  await new Promise<void>((resolve) => herald.listen(0, "127.0.0.1", resolve));
  origin = new URL(`http://127.0.0.1:${(herald.address() as AddressInfo).port}`);
  keys = await accountKeys();
  const options: FederationOptions = {
    origin,
    username: "news",
    allowPrivateAddress: true,
    site: { name: "Die Zeitung", description: "Nachrichten aus Berlin", languages: ["de"] },
  };
  kv = new MemoryKvStore();
  federation = buildFederation(options, {
    store: memoryArticleStore([{ article: makeArticle(), state: "published" }]),
    kv,
    queue: new InProcessMessageQueue(),
    keys,
    followers: openSqliteFollowerStore(new DatabaseSync(":memory:")),
  });
  const app = express();
  const counting = new Proxy(federation, {
    get(target, property) {
      if (property === "fetch") {
        return (request: Request, fetchOptions: FederationFetchOptions<void>) => {
          if (new URL(request.url).pathname === actorUrl().pathname) built++;
          return target.fetch(request, fetchOptions);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  app.use(
    federationMiddleware({ federation: counting, store: memoryArticleStore([]), kv }, options),
  );
  herald.on("request", app);
  remote = await startFakeRemote({
    users: ["alice"],
    keyPair: loadFixtureKeyPair(),
    address: "127.0.0.84",
  });
});

afterAll(async () => {
  await remote.close();
  herald.closeAllConnections();
  await new Promise<void>((resolve) => herald.close(() => resolve()));
});

describe("the actor's webfinger (FEP-2c59) and attributionDomains", () => {
  it("is the handle, under the FEP's context, in the actor a Mastodon-like server fetches signed", async () => {
    const actor = await remote.fetchObject(actorUrl(), { signAs: "alice" });
    expect(actor.id).toBe(actorUrl().href);
    expect(actor.webfinger).toBe(`news@${origin.host}`);
    const context = actor["@context"] as unknown[];
    expect(context[0]).toBe("https://www.w3.org/ns/activitystreams");
    expect(context).toContain(WEBFINGER_CONTEXT);
    expect(context.filter((entry) => entry === WEBFINGER_CONTEXT)).toHaveLength(1);
  });

  it("names the site's host in attributionDomains, under Mastodon's term", async () => {
    const actor = await remote.fetchObject(actorUrl(), { signAs: "alice" });
    expect(actor.attributionDomains).toEqual([origin.hostname]);
    expect(actor["@context"]).toContainEqual(ATTRIBUTION_DOMAINS_CONTEXT);
  });

  it("leaves the actor as Fedify reads it, keys included", async () => {
    const documentLoader = getDocumentLoader({ allowPrivateAddress: true });
    const response = await fetch(actorUrl(), { headers: { Accept: "application/activity+json" } });
    const actor = await Service.fromJsonLd(await response.json(), { documentLoader });
    expect(actor.id?.href).toBe(actorUrl().href);
    expect(actor.preferredUsername).toBe("news");
    expect((await actor.getPublicKey({ documentLoader }))?.id?.href).toBe(
      `${actorUrl().href}#main-key`,
    );
  });

  it("leaves Herald's signatures verifiable with the key fetched from it", async () => {
    const documentLoader = getDocumentLoader({ allowPrivateAddress: true });
    const keyId = new URL(`${actorUrl().href}#main-key`);
    const request = await signRequest(
      new Request("https://peer.test/inbox", { method: "POST", body: "{}" }),
      keys.rsa.privateKey,
      keyId,
      { spec: "draft-cavage-http-signatures-12" },
    );
    const key = await verifyRequest(request, { documentLoader, contextLoader: documentLoader });
    expect(key?.id?.href).toBe(keyId.href);
  });

  it("touches nothing but the account's actor", async () => {
    const response = await fetch(new URL("/users/news/outbox", origin), {
      headers: { Accept: "application/activity+json" },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).not.toHaveProperty("webfinger");
    const json = new Response('["not", "an", "object"]', {
      headers: { "Content-Type": "application/activity+json" },
    });
    const extensions = { webfinger: "news@news.test", attributionDomains: ["news.test"] };
    expect(await (await extendActor(json, extensions)).json()).toEqual(["not", "an", "object"]);
  });
});

describe("NodeInfo metadata", () => {
  it("names the site, describes it and lists its language", async () => {
    const response = await fetch(new URL("/nodeinfo/2.1", origin));
    const nodeInfo = (await response.json()) as { metadata?: unknown };
    expect(nodeInfo.metadata).toEqual({
      nodeName: "Die Zeitung",
      nodeDescription: "Nachrichten aus Berlin",
      languages: ["de"],
    });
  });

  it("leaves out what is not known", () => {
    expect(toNodeInfo(1, "1.0.0", { name: "News", languages: [] }).metadata).toEqual({
      nodeName: "News",
    });
    expect(toNodeInfo(1, "1.0.0").metadata).toBeUndefined();
  });
});

describe("the actor document, kept for a burst of fetches", () => {
  const get = () => fetch(actorUrl(), { headers: { Accept: "application/activity+json" } });
  const movedTo = async () => ((await (await get()).json()) as { movedTo?: string }).movedTo;

  it("is built once for many servers fetching it at once, and is the same bytes each time", async () => {
    const before = built;
    const answers = await Promise.all(Array.from({ length: 20 }, get));
    const later = await get();
    const bodies = await Promise.all([...answers, later].map((response) => response.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0] ?? "").webfinger).toBe(`news@${origin.host}`);
    expect(later.headers.get("content-type")).toMatch(/^application\/activity\+json/);
    expect(built - before).toBeLessThanOrEqual(1);
  });

  it("shows a move (`npm run move`) at the next fetch, and its end too", async () => {
    expect(await movedTo()).toBeUndefined();
    const target = "https://elsewhere.test/users/news";
    await saveMovedTo(kv, new URL(target));
    try {
      expect(await movedTo()).toBe(target);
    } finally {
      await kv.delete(MOVED_TO_KEY);
    }
    expect(await movedTo()).toBeUndefined();
  });
});
