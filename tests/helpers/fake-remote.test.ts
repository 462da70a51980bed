import { createPublicKey, generateKeyPairSync } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { signRequest, verifyRequest } from "@fedify/fedify";
import { afterEach, describe, expect, it } from "vitest";
import {
  AS_CONTEXT,
  digestHeader,
  type FakeRemote,
  type FakeRemoteOptions,
  type JsonObject,
  loadFixtureCryptoKey,
  loadFixtureKeyPair,
  SECURITY_CONTEXT,
  startFakeRemote,
  startFakeRemotes,
} from "./fake-remote.ts";

const fixture = loadFixtureKeyPair();
const open: { close(): Promise<unknown> }[] = [];

async function remote(options: FakeRemoteOptions = {}): Promise<FakeRemote> {
  const started = await startFakeRemote({ keyPair: fixture, ...options });
  open.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

function note(from: FakeRemote, user = "alice"): JsonObject {
  const actor = from.actorUrl(user).href;
  return {
    "@context": AS_CONTEXT,
    id: `${actor}/statuses/1/activity`,
    type: "Create",
    actor,
    to: ["https://www.w3.org/ns/activitystreams#Public"],
    object: { id: `${actor}/statuses/1`, type: "Note", attributedTo: actor, content: "<p>Hi</p>" },
  };
}

describe("fake remote documents", () => {
  it("serves a WebFinger JRD whose self link names the actor", async () => {
    const a = await remote({ users: ["alice", "bob"] });
    const response = await fetch(
      `${a.origin.href}.well-known/webfinger?resource=acct:bob@${a.host}`,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/jrd\+json/);
    const jrd = (await response.json()) as { subject: string; links: JsonObject[] };
    expect(jrd.subject).toBe(`acct:bob@${a.host}`);
    expect(jrd.links).toContainEqual({
      rel: "self",
      type: "application/activity+json",
      href: a.actorUrl("bob").href,
    });
    const missing = await fetch(
      `${a.origin.href}.well-known/webfinger?resource=acct:carol@${a.host}`,
    );
    expect(missing.status).toBe(404);
    const otherHost = await fetch(`${a.origin.href}.well-known/webfinger?resource=acct:bob@x.test`);
    expect(otherHost.status).toBe(404);
    expect((await fetch(`${a.origin.href}.well-known/webfinger`)).status).toBe(400);
  });

  it("serves a Person with inbox, shared inbox, collections and a usable public key", async () => {
    const a = await remote({ keyPair: undefined });
    const response = await fetch(a.actorUrl(), {
      headers: { accept: "application/activity+json" },
    });
    expect(response.headers.get("content-type")).toMatch(/^application\/activity\+json/);
    const actor = (await response.json()) as Record<string, unknown>;
    const id = a.actorUrl().href;
    expect(actor["@context"]).toEqual([AS_CONTEXT, SECURITY_CONTEXT]);
    expect(actor).toMatchObject({
      id,
      type: "Person",
      preferredUsername: "alice",
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      followers: `${id}/followers`,
      endpoints: { sharedInbox: `${a.origin.href}inbox` },
      publicKey: { id: `${id}#main-key`, owner: id },
    });
    const pem = (actor.publicKey as { publicKeyPem: string }).publicKeyPem;
    const key = createPublicKey(pem);
    expect(key.asymmetricKeyType).toBe("rsa");
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(pem).not.toBe(fixture.publicKeyPem); // no keyPair given: a fresh key
    const followers = await fetch(`${id}/followers`);
    expect(await followers.json()).toMatchObject({ type: "OrderedCollection", totalItems: 0 });
  });

  it("looks a handle up through WebFinger and the actor document", async () => {
    const a = await remote({ users: ["alice", "bob"] });
    const b = await remote();
    const found = await b.lookup(`@${a.handle("bob")}`);
    expect(found.actorUrl.href).toBe(a.actorUrl("bob").href);
    expect(found.inbox.href).toBe(a.inboxUrl("bob").href);
    expect(found.sharedInbox?.href).toBe(a.sharedInbox.href);
    expect(found.actor.type).toBe("Person");
    await expect(b.lookup(`acct:nobody@${a.host}`)).rejects.toThrow("HTTP 404");
  });
});

describe("fake remote inboxes", () => {
  it("accept a POST signed by another instance, as Mastodon signs it", async () => {
    const a = await remote();
    const b = await remote({ users: ["bob"] });
    const result = await a.post("alice", b.inboxUrl("bob"), note(a));
    expect(result.status).toBe(202);
    const [got] = b.received();
    expect(got).toMatchObject({
      verified: true,
      status: 202,
      path: "/users/bob/inbox",
      user: "bob",
    });
    expect(got?.type).toBe("Create");
    expect(got?.signer?.href).toBe(a.actorUrl().href);
    expect(got?.keyId).toBe(a.keyId().href);
    expect(got?.headers.signature).toContain('headers="(request-target) host date digest"');
    expect(got?.headers.digest).toBe(digestHeader(JSON.stringify(note(a))));
  });

  it("verify with per-user generated keys too, on the shared inbox", async () => {
    const a = await remote({ keyPair: undefined, users: ["alice", "bob"] });
    const b = await remote({ keyPair: undefined });
    expect(a.publicKeyPem("alice")).not.toBe(a.publicKeyPem("bob"));
    expect((await a.post("bob", b.sharedInbox, note(a, "bob"))).status).toBe(202);
    expect(b.received({ verified: true, path: "/inbox" })).toHaveLength(1);
  });

  const refusals: {
    name: string;
    send: (a: FakeRemote, b: FakeRemote) => Promise<{ status: number }>;
    status: number;
    reason: RegExp;
  }[] = [
    {
      name: "a missing signature",
      send: (a, b) => a.post("alice", b.sharedInbox, note(a), { unsigned: true }),
      status: 401,
      reason: /^Request not signed$/,
    },
    {
      name: "a body changed after signing",
      send: (a, b) =>
        a.post("alice", b.sharedInbox, note(a), {
          bodyAfterSigning: JSON.stringify({ ...note(a), to: [] }),
        }),
      status: 401,
      reason: /^Invalid Digest value\. Computed SHA-256 digest: /,
    },
    {
      name: "a wrong Digest",
      send: (a, b) => a.post("alice", b.sharedInbox, note(a), { digest: digestHeader("other") }),
      status: 401,
      reason: /^Invalid Digest value\. Computed SHA-256 digest: /,
    },
    {
      name: "a Digest that is not SHA-256",
      send: (a, b) => a.post("alice", b.sharedInbox, note(a), { digest: "SHA-512=abc" }),
      status: 401,
      reason: /^Mastodon only supports SHA-256 in Digest header/,
    },
    {
      name: "a body and Digest both changed after signing",
      send: (a, b) => {
        const forged = JSON.stringify({ ...note(a), to: [] });
        return a.post("alice", b.sharedInbox, note(a), {
          bodyAfterSigning: forged,
          headersAfterSigning: { digest: digestHeader(forged) },
        });
      },
      status: 401,
      reason: /^Verification failed for http:\/\/127\.0\.0\.1:\d+\/users\/alice using rsa-sha256/,
    },
    {
      name: "a Date two hours old",
      send: (a, b) =>
        a.post("alice", b.sharedInbox, note(a), { date: new Date(Date.now() - 2 * 3600_000) }),
      status: 401,
      reason: /^Signed request date outside acceptable time window$/,
    },
    {
      name: "a Date two hours ahead",
      send: (a, b) =>
        a.post("alice", b.sharedInbox, note(a), { date: new Date(Date.now() + 2 * 3600_000) }),
      status: 401,
      reason: /^Signed request date outside acceptable time window$/,
    },
    {
      name: "a signature by another key under the actor's keyId",
      send: (a, b) =>
        a.post("alice", b.sharedInbox, note(a), {
          privateKeyPem: generateKeyPairSync("rsa", { modulusLength: 2048 })
            .privateKey.export({ type: "pkcs8", format: "pem" })
            .toString(),
        }),
      status: 401,
      reason: /^Verification failed for http:\/\/127\.0\.0\.1:\d+\/users\/alice using rsa-sha256/,
    },
    {
      name: "a key whose owner is not the activity's actor",
      send: (a, b) => a.post("bob", b.sharedInbox, note(a, "alice")),
      status: 401,
      reason:
        /^Key .*\/users\/bob#main-key belongs to .*\/users\/bob, not to the activity's actor .*\/users\/alice$/,
    },
    {
      name: "a keyId that cannot be fetched",
      send: (a, b) =>
        a.post("alice", b.sharedInbox, note(a), { keyId: `${a.origin.href}users/ghost#main-key` }),
      status: 401,
      reason: /^Failed to fetch remote data: GET .*\/users\/ghost#main-key answered HTTP 404\.$/,
    },
    {
      name: "an unsupported algorithm",
      send: (a, b) => a.post("alice", b.sharedInbox, note(a), { algorithm: "hmac-sha256" }),
      status: 401,
      reason: /^Unsupported signature algorithm/,
    },
    {
      name: "a POST signature without the Digest",
      send: (a, b) =>
        a.post("alice", b.sharedInbox, note(a), {
          signedHeaders: ["(request-target)", "host", "date"],
        }),
      status: 401,
      reason: /^Mastodon requires the Digest header to be signed when doing a POST request$/,
    },
    {
      name: "a well-signed body that is not JSON",
      send: (a, b) => a.post("alice", b.sharedInbox, "{not json"),
      status: 400,
      reason: /^Body is not a JSON object$/,
    },
  ];

  for (const refusal of refusals) {
    it(`refuse ${refusal.name} and record why`, async () => {
      const a = await remote({ users: ["alice", "bob"] });
      const b = await remote({ users: ["carol"] });
      const result = await refusal.send(a, b);
      expect(result.status).toBe(refusal.status);
      const [got] = b.received();
      expect(got?.verified).toBe(false);
      expect(got?.status).toBe(refusal.status);
      expect(got?.reason).toMatch(refusal.reason);
    });
  }

  it("accept a Date 30 minutes old, within Mastodon's window", async () => {
    const a = await remote();
    const b = await remote();
    const result = await a.post("alice", b.sharedInbox, note(a), {
      date: new Date(Date.now() - 30 * 60_000),
    });
    expect(result.status).toBe(202);
  });

  it("refetch a cached key once when verification fails (key rotation)", async () => {
    const b = await remote();
    const first = await remote({ keyPair: undefined });
    const port = first.port;
    expect((await first.post("alice", b.sharedInbox, note(first))).status).toBe(202);
    await first.close();
    const rotated = await remote({ keyPair: undefined, port });
    expect((await rotated.post("alice", b.sharedInbox, note(rotated))).status).toBe(202);
    expect(b.received({ verified: true })).toHaveLength(2);
  });
});

describe("fake remote client actions", () => {
  it("follows and unfollows with Mastodon-shaped activities", async () => {
    const a = await remote();
    const b = await remote({ users: ["bob"] });
    const followId = await a.follow("alice", b.actorUrl("bob"));
    const follow = await b.waitFor((activity) => activity.type === "Follow");
    expect(follow.activity).toEqual({
      "@context": AS_CONTEXT,
      id: followId.href,
      type: "Follow",
      actor: a.actorUrl().href,
      object: b.actorUrl("bob").href,
    });
    expect(follow.path).toBe("/users/bob/inbox");
    const undoId = await a.unfollow("alice", b.actorUrl("bob"));
    const undo = await b.waitFor((activity) => activity.type === "Undo");
    expect(undo.activity).toMatchObject({
      id: undoId.href,
      actor: a.actorUrl().href,
      object: { id: followId.href, type: "Follow", object: b.actorUrl("bob").href },
    });
    expect(await a.follow("alice", b.actorUrl("bob"))).not.toEqual(followId);
  });

  it("deletes an actor: Delete to the followed inboxes, then 410 Gone", async () => {
    const a = await remote();
    const b = await remote({ users: ["bob"] });
    await a.follow("alice", b.actorUrl("bob"));
    const deleteId = await a.deleteActor("alice");
    const got = await b.waitFor((activity) => activity.type === "Delete");
    expect(got.path).toBe("/inbox");
    expect(got.activity).toMatchObject({
      id: deleteId.href,
      actor: a.actorUrl().href,
      object: a.actorUrl().href,
    });
    expect((await fetch(a.actorUrl())).status).toBe(410);
  });

  it("deletes with the key already gone when asked, so receivers cannot verify", async () => {
    const a = await remote();
    const b = await remote();
    await expect(
      a.deleteActor("alice", { inboxes: [b.sharedInbox], goneFirst: true }),
    ).rejects.toThrow("HTTP 401");
    expect(b.received()[0]?.reason).toMatch(/answered HTTP 410/);
  });

  it("follow() fails loudly when the target refuses", async () => {
    const a = await remote();
    const b = await remote({ mode: "down-500" });
    await expect(a.follow("alice", b.actorUrl())).rejects.toThrow(/Follow .* answered HTTP 500/);
  });

  it("only talks to loopback", async () => {
    const a = await remote();
    await expect(a.fetchObject(new URL("https://example.com/users/x"))).rejects.toThrow(
      "only talks to http://127.0.0.1",
    );
  });
});

describe("fake remote failure modes and waiting", () => {
  it("answers 500, 410, or nothing as set at run time, and records the attempts", async () => {
    const a = await remote({ requestTimeoutMs: 300 });
    const b = await remote();
    b.setMode("down-500");
    expect((await a.post("alice", b.sharedInbox, note(a))).status).toBe(500);
    b.setMode("gone-410");
    expect((await a.post("alice", b.sharedInbox, note(a))).status).toBe(410);
    b.setMode("hang");
    await expect(a.post("alice", b.sharedInbox, note(a))).rejects.toThrow("timed out after 300 ms");
    b.setMode("ok");
    expect((await a.post("alice", b.sharedInbox, note(a))).status).toBe(202);
    expect(b.received().map((r) => [r.mode, r.status, r.verified])).toEqual([
      ["down-500", 500, false],
      ["gone-410", 410, false],
      ["hang", 0, false],
      ["ok", 202, true],
    ]);
  });

  it("waitFor() resolves on a later arrival and rejects listing what came", async () => {
    const a = await remote();
    const b = await remote();
    const waiting = b.waitFor((activity) => activity.type === "Create", { timeoutMs: 2_000 });
    await a.post("alice", b.sharedInbox, note(a));
    expect((await waiting).type).toBe("Create");
    await a.post("alice", b.sharedInbox, note(a), { unsigned: true });
    const error = await b
      .waitFor((activity) => activity.type === "Like", { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect(String(error)).toMatch(/nothing matched within 50 ms; received 2:/);
    expect(String(error)).toMatch(/#1 POST \/inbox Create → 202 verified/);
    expect(String(error)).toMatch(/#2 POST \/inbox Create → 401 refused: Request not signed/);
  });

  it("waitFor() ignores refused requests even when the predicate matches", async () => {
    const a = await remote();
    const b = await remote();
    await a.post("alice", b.sharedInbox, note(a), { unsigned: true });
    await expect(b.waitFor(() => true, { timeoutMs: 50 })).rejects.toThrow("nothing matched");
  });
});

describe("startFakeRemotes()", () => {
  it("starts many hosts on distinct ports sharing the fixture key", async () => {
    const started = Date.now();
    const many = await startFakeRemotes(50);
    open.push(...many);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(new Set(many.map((r) => r.port)).size).toBe(50);
    expect(new Set(many.map((r) => r.publicKeyPem()))).toEqual(
      new Set([createPublicKey(fixture.publicKeyPem).export({ type: "spki", format: "pem" })]),
    );
    const [first, last] = [many[0], many[49]];
    if (first === undefined || last === undefined) throw new Error("missing remotes");
    expect((await first.post("alice", last.sharedInbox, note(first))).status).toBe(202);
  });
});

// ---- interop with Fedify: the only place Fedify appears -------------------------------------

/** Fedify's document loader refuses loopback; this one fetches anything, for tests only. */
async function loopbackLoader(url: string) {
  const response = await fetch(url, { headers: { accept: "application/activity+json" } });
  return { contextUrl: null, documentUrl: response.url, document: await response.json() };
}

/** A server whose every request is judged by Fedify's verifyRequest (draft-cavage). */
async function fedifyVerifier(): Promise<{
  url: URL;
  verdicts: (string | null)[];
  close(): Promise<unknown>;
}> {
  const verdicts: (string | null)[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string") headers.set(name, value);
    }
    const body = req.method === "POST" ? Buffer.concat(chunks) : null;
    const request = new Request(new URL(req.url ?? "/", `http://${req.headers.host}`), {
      method: req.method ?? "GET",
      headers,
      body,
    });
    const key = await verifyRequest(request, { documentLoader: loopbackLoader });
    verdicts.push(key?.id?.href ?? null);
    res.writeHead(key === null ? 401 : 202).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/inbox`);
  const handle = {
    url,
    verdicts,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
  open.push(handle);
  return handle;
}

describe("interop with Fedify", () => {
  it("accepts a POST signed by Fedify's signRequest", async () => {
    const a = await remote();
    const b = await remote();
    const privateKey = await loadFixtureCryptoKey();
    const unsigned = new Request(b.sharedInbox, {
      method: "POST",
      headers: { "content-type": "application/activity+json" },
      body: JSON.stringify(note(a)),
    });
    const signed = await signRequest(unsigned, privateKey, a.keyId(), {
      spec: "draft-cavage-http-signatures-12",
    });
    const response = await fetch(signed);
    expect(response.status).toBe(202);
    expect(b.received()[0]).toMatchObject({ verified: true, keyId: a.keyId().href });
  });

  it("refuses Fedify's RFC 9421 first knock with a reason, so Fedify falls back to cavage", async () => {
    const a = await remote();
    const b = await remote();
    const privateKey = await loadFixtureCryptoKey();
    const signed = await signRequest(
      new Request(b.sharedInbox, { method: "POST", body: JSON.stringify(note(a)) }),
      privateKey,
      a.keyId(),
      { spec: "rfc9421" },
    );
    expect((await fetch(signed)).status).toBe(401);
    expect(b.received()[0]?.reason).toMatch(/^RFC 9421 HTTP Message Signatures are not supported/);
  });

  it("makes POSTs and signed GETs that Fedify's verifyRequest accepts, and tampered ones it refuses", async () => {
    const a = await remote();
    const verifier = await fedifyVerifier();
    expect((await a.post("alice", verifier.url, note(a))).status).toBe(202);
    expect((await a.get(verifier.url, { signAs: "alice" })).status).toBe(202);
    const tampered = await a.post("alice", verifier.url, note(a), { digest: digestHeader("x") });
    expect(tampered.status).toBe(401);
    expect(verifier.verdicts).toEqual([a.keyId().href, a.keyId().href, null]);
  });
});
