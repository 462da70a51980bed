/**
 * A fake Mastodon-like fediverse server for Herald's federation tests: real HTTP on 127.0.0.1,
 * signing and checking draft-cavage HTTP Signatures the way Mastodon does, written with
 * `node:http` and `node:crypto` only (no Fedify, no signature library) so that Herald, built on
 * Fedify, is not just tested against Fedify itself.
 *
 * Written from Mastodon's sources (github.com/mastodon/mastodon); each module under `fake-remote/`
 * names the files it follows:
 * - `cavage-signature.ts`: signing and checking (`http_signature_draft.rb`, `request.rb`,
 *   `signed_request.rb`, `concerns/signature_verification.rb`);
 * - `verifier.ts`: key lookup and actor check (`fetch_remote_key_service.rb`,
 *   `process_collection_service.rb`);
 * - `client.ts`: outgoing GETs and deliveries (`jsonld_helper.rb`, `request.rb`);
 * - `activitypub.ts`: documents and activities (`webfinger_serializer.rb`, `follow_serializer.rb`,
 *   `undo_follow_serializer.rb`, `delete_actor_serializer.rb`);
 * - here: the server and its inboxes (`activitypub/inboxes_controller.rb`: 401 with the reason on
 *   a bad signature, 202 once accepted), and WebFinger lookups (`app/lib/webfinger.rb`).
 */

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  randomUUID,
  webcrypto,
} from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import {
  ACTIVITY_CONTENT_TYPE,
  actorDocument,
  actorUrlOf,
  asArray,
  deleteActorActivity,
  emptyCollection,
  followActivity,
  idOf,
  isActivityContentType,
  isObject,
  type JsonObject,
  parseJsonObject,
  quoteRequestActivity,
  undoFollowActivity,
  webfingerJrd,
  webfingerUser,
} from "./fake-remote/activitypub.ts";
import { createClient, type GetOptions, type Tamper } from "./fake-remote/client.ts";
import { answer, flattenHeaders, type HttpResult, readBody } from "./fake-remote/http.ts";
import { createVerifier } from "./fake-remote/verifier.ts";

export {
  ACTIVITY_ACCEPT,
  AS_CONTEXT,
  type JsonObject,
  PUBLIC_COLLECTION,
  SECURITY_CONTEXT,
} from "./fake-remote/activitypub.ts";
export { digestHeader } from "./fake-remote/cavage-signature.ts";
export type { GetOptions, Tamper } from "./fake-remote/client.ts";
export type { HttpResult } from "./fake-remote/http.ts";

const BODY_LIMIT = 1024 * 1024;

/** An RSA key pair in PEM (PKCS#8 private, SPKI public). */
export interface FakeKeyPair {
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
}

/**
 * How the inboxes answer: normally, 500, 410, or never (the socket stays open until `close()`);
 * `server-gone`: the whole server is gone, every request (inboxes, actors, WebFinger) answers 410.
 */
export type FakeRemoteMode = "ok" | "down-500" | "gone-410" | "hang" | "server-gone";

export interface FakeRemoteOptions {
  /** Listen port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** Hosted usernames, `[a-z0-9_]+`; default `["alice"]`. */
  readonly users?: readonly string[];
  /** One key pair for every user (cheap); default a fresh RSA-2048 pair per user. */
  readonly keyPair?: FakeKeyPair | undefined;
  /** Initial inbox mode; default `"ok"`. */
  readonly mode?: FakeRemoteMode;
  /**
   * Sign the key fetches made while verifying inbox requests as this hosted user, for peers in
   * authorized-fetch mode (Mastodon signs them as its instance actor). Default: unsigned.
   */
  readonly signKeyFetchesAs?: string;
  /** Timeout of every outgoing request; default 10 000 ms. */
  readonly requestTimeoutMs?: number;
  /**
   * Advertise the shared inbox in actor documents; default true. Without it, peers deliver
   * to each user's own inbox (where a gone account answers 410).
   */
  readonly sharedInbox?: boolean;
  /** Per hosted user, the `alsoKnownAs` of its actor document (actor URLs); default none. */
  readonly aliases?: Readonly<Record<string, readonly (URL | string)[]>>;
  /** Per hosted user, the display `name` of its actor document; default the username. */
  readonly names?: Readonly<Record<string, string>>;
  /** Per hosted user, when its account was created (the actor's `published`); default unsaid. */
  readonly published?: Readonly<Record<string, string>>;
  /**
   * Serve https with this key and certificate (PEM; see `tls.ts`), as real servers do: handles
   * and ids are then `https://127.0.0.1:PORT`. Default: plain http.
   */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** The loopback address to listen on; default 127.0.0.1 (its certificate must name it). */
  readonly address?: string;
  /** Links added to every WebFinger answer (FEP-3b86 intents, `template` links); default none. */
  readonly webfingerLinks?: readonly JsonObject[];
}

/** Any request the server got (inbox POSTs, WebFinger, actor documents…), as it arrived. */
export interface SeenRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

/** One request received by an inbox. */
export interface ReceivedRequest {
  /** 1, 2, 3… in arrival order. */
  readonly seq: number;
  readonly receivedAt: Date;
  /** `/inbox` (shared) or `/users/NAME/inbox`. */
  readonly path: string;
  /** The personal inbox's owner, `undefined` for the shared inbox. */
  readonly user: string | undefined;
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: string;
  /** The body when it is a JSON object. */
  readonly activity: JsonObject | undefined;
  /** `activity.type` when a string. */
  readonly type: string | undefined;
  /** Signature, digest, key and actor all checked out, and the body is a JSON object. */
  readonly verified: boolean;
  /** Why not verified, worded like Mastodon where Mastodon has a message. */
  readonly reason: string | undefined;
  /** The `keyId` of the Signature header, if it parsed. */
  readonly keyId: string | undefined;
  /** The actor owning the key that verified the signature. */
  readonly signer: URL | undefined;
  /** The answer given: 202, 400, 401, 413, 500, 410, or 0 while left hanging. */
  readonly status: number;
  /** The inbox mode when it arrived. */
  readonly mode: FakeRemoteMode;
}

/** A filter for {@link FakeRemote.received}: a predicate, or fields that must all be equal. */
export type ReceivedFilter =
  | ((request: ReceivedRequest) => boolean)
  | {
      readonly type?: string;
      readonly verified?: boolean;
      readonly path?: string;
      readonly user?: string;
    };

/** What {@link FakeRemote.lookup} found. */
export interface LookupResult {
  /** The WebFinger JRD. */
  readonly jrd: JsonObject;
  readonly actorUrl: URL;
  readonly actor: JsonObject;
  readonly inbox: URL;
  readonly sharedInbox: URL | undefined;
}

export interface FakeRemote {
  /** `http://127.0.0.1:PORT` (`https:` with the `tls` option) */
  readonly origin: URL;
  /** `127.0.0.1:PORT`, the host part of handles. */
  readonly host: string;
  readonly port: number;
  readonly users: readonly string[];
  /** `/inbox` */
  readonly sharedInbox: URL;
  /** `/users/NAME` (default user: the first). */
  actorUrl(user?: string): URL;
  /** `/users/NAME/inbox` */
  inboxUrl(user?: string): URL;
  /** `/users/NAME#main-key` */
  keyId(user?: string): URL;
  /** `NAME@127.0.0.1:PORT` */
  handle(user?: string): string;
  /** The user's public key PEM, as served in the actor document. */
  publicKeyPem(user?: string): string;

  /**
   * Resolves `news@host:port` (also `@news@…`, `acct:news@…`) like Mastodon: WebFinger over http
   * (`Accept: application/jrd+json, application/json`), then the `self` link's actor document.
   * `signAs` signs both GETs as that hosted user (for authorized-fetch servers). Throws with the
   * reason when a step fails.
   */
  lookup(handle: string, options?: { readonly signAs?: string | undefined }): Promise<LookupResult>;
  /**
   * GETs an ActivityPub document (`Accept: application/activity+json, application/ld+json`),
   * optionally signed; throws unless 200 with an ActivityPub content type and a JSON object body.
   */
  fetchObject(url: URL, options?: GetOptions): Promise<JsonObject>;
  /** A raw GET, optionally signed, for tests of what a server answers. Never throws on status. */
  get(url: URL, options?: GetOptions): Promise<HttpResult>;
  /**
   * `user` follows `target` (an actor URL): fetches the actor, POSTs a signed `Follow` with a fresh
   * id to its `inbox`, and returns the Follow's id. Throws unless the inbox answers 2xx.
   */
  follow(user: string, target: URL): Promise<URL>;
  /**
   * Sends `Undo{Follow}` for the last Follow `user` sent to `target` (or for a made-up one) and
   * returns the Undo's id. Throws unless the inbox answers 2xx.
   */
  unfollow(user: string, target: URL): Promise<URL>;
  /**
   * Deletes `user`: sends `Delete{actor}` (id `actorUrl#delete`, to Public) to `inboxes`, by default
   * the shared (else personal) inbox of everyone the user followed. Afterwards the actor document
   * answers 410 Gone and WebFinger 404; with `goneFirst` already before sending (so the receiver
   * cannot fetch the key). Returns the Delete's id; throws unless every inbox answers 2xx.
   */
  deleteActor(
    user: string,
    options?: { readonly inboxes?: readonly URL[]; readonly goneFirst?: boolean },
  ): Promise<URL>;
  /**
   * `user` quotes `post` (FEP-044f, as Mastodon 4.5): fetches the post, then POSTs a signed
   * `QuoteRequest` (fresh ids, the quoting post embedded as `instrument`) to its author's inbox.
   * `quotePost` asks again for a quoting post asked for before. Returns both ids and the
   * activity (to deliver it again); throws unless the inbox answers 2xx.
   */
  requestQuote(
    user: string,
    post: URL,
    quotePost?: URL,
  ): Promise<{ readonly request: URL; readonly quotePost: URL; readonly activity: JsonObject }>;
  /**
   * POSTs `activity` (an object, serialized here, or a raw string) to `inbox`, signed as `user`
   * exactly as Mastodon's delivery does, or spoiled per `tamper`. Never throws on status.
   */
  post(
    user: string,
    inbox: URL,
    activity: JsonObject | string,
    tamper?: Tamper,
  ): Promise<HttpResult>;

  /** Inbox requests received so far, oldest first, optionally filtered. */
  received(filter?: ReceivedFilter): readonly ReceivedRequest[];
  /** Every request received so far, of any kind, oldest first. */
  requests(): readonly SeenRequest[];
  /**
   * The first verified inbox request whose activity matches (already received or arriving within
   * `timeoutMs`, default 5 000). Rejects with a list of everything received when none does.
   */
  waitFor(
    predicate: (activity: JsonObject, request: ReceivedRequest) => boolean,
    options?: { readonly timeoutMs?: number },
  ): Promise<ReceivedRequest>;
  /** Sets the `alsoKnownAs` of `user`'s actor document from now on (as Mastodon's account aliases). */
  setAliases(user: string, aliases: readonly (URL | string)[]): void;
  /** Switches how the inboxes answer from now on. */
  setMode(mode: FakeRemoteMode): void;
  readonly mode: FakeRemoteMode;
  /** Stops listening, drops every connection (hanging ones too), rejects pending `waitFor`s. */
  close(): Promise<void>;
}

/** The committed test key pair `tests/fixtures/rsa-2048.pem` / `rsa-2048.pub.pem`. */
export function loadFixtureKeyPair(): FakeKeyPair {
  return {
    privateKeyPem: readFileSync(new URL("../fixtures/rsa-2048.pem", import.meta.url), "utf8"),
    publicKeyPem: readFileSync(new URL("../fixtures/rsa-2048.pub.pem", import.meta.url), "utf8"),
  };
}

/** The fixture's private key for WebCrypto, to sign as a fake remote user with Fedify's `signRequest`. */
export function loadFixtureCryptoKey(): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey(
    "pkcs8",
    createPrivateKey(loadFixtureKeyPair().privateKeyPem).export({ type: "pkcs8", format: "der" }),
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    true, // Fedify's signRequest insists on an extractable key
    ["sign"],
  );
}

/**
 * Starts `count` fake servers on distinct ports, all signing with one key pair (the fixture pair
 * unless `options.keyPair` is given, parsed once), so that a thousand hosts start in about a second.
 * If one fails to start, the others are closed and the error is thrown.
 */
export async function startFakeRemotes(
  count: number,
  options: Omit<FakeRemoteOptions, "port"> = {},
): Promise<FakeRemote[]> {
  const keys = parseKeyPair(options.keyPair ?? loadFixtureKeyPair());
  const started = await Promise.allSettled(
    Array.from({ length: count }, () => start(options, keys)),
  );
  const remotes = started.flatMap((result) =>
    result.status === "fulfilled" ? [result.value] : [],
  );
  const failure = started.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    await Promise.all(remotes.map((remote) => remote.close()));
    throw failure.reason;
  }
  return remotes;
}

/** Starts one fake server on 127.0.0.1 (see {@link FakeRemote}). */
export function startFakeRemote(options: FakeRemoteOptions = {}): Promise<FakeRemote> {
  return start(options, options.keyPair === undefined ? undefined : parseKeyPair(options.keyPair));
}

interface UserKeys {
  readonly publicKeyPem: string;
  readonly privateKey: KeyObject;
}

function parseKeyPair(keyPair: FakeKeyPair): UserKeys {
  return {
    publicKeyPem: createPublicKey(keyPair.publicKeyPem)
      .export({ type: "spki", format: "pem" })
      .toString(),
    privateKey: createPrivateKey(keyPair.privateKeyPem),
  };
}

async function generateUserKeys(): Promise<UserKeys> {
  const pair = await promisify(generateKeyPair)("rsa", { modulusLength: 2048 });
  return {
    publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKey: pair.privateKey,
  };
}

function listen(
  server: http.Server | https.Server,
  port: number,
  address = "127.0.0.1",
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function start(
  options: FakeRemoteOptions,
  shared: UserKeys | undefined,
): Promise<FakeRemote> {
  const users = options.users ?? ["alice"];
  if (users.length === 0) throw new Error("A fake remote needs at least one user.");
  for (const user of users) {
    if (!/^[a-z0-9_]+$/.test(user)) throw new Error(`Usernames are [a-z0-9_]+ (got "${user}").`);
  }
  const signKeyFetchesAs = options.signKeyFetchesAs;
  if (signKeyFetchesAs !== undefined && !users.includes(signKeyFetchesAs)) {
    throw new Error(`signKeyFetchesAs must be a hosted user (got "${signKeyFetchesAs}").`);
  }
  const keys = new Map<string, UserKeys>();
  for (const user of users) keys.set(user, shared ?? (await generateUserKeys()));

  const server = options.tls ? https.createServer(options.tls) : http.createServer();
  const address = options.address ?? "127.0.0.1";
  const port = await listen(server, options.port ?? 0, address);
  const origin = new URL(`${options.tls ? "https" : "http"}://${address}:${port}`);
  const host = origin.host;
  const agent = new http.Agent({ keepAlive: true });

  let mode: FakeRemoteMode = options.mode ?? "ok";
  const log: ReceivedRequest[] = [];
  const seen: SeenRequest[] = [];
  const waiters = new Set<(request: ReceivedRequest) => void>();
  const closers = new Set<(error: Error) => void>();
  const knownActors = new Map<string, JsonObject>();
  const follows = new Map<string, URL>(); // `${user} ${target}` → the last Follow's id
  const deleted = new Set<string>();
  const aliases = new Map<string, readonly string[]>(
    Object.entries(options.aliases ?? {}).map(([user, urls]) => [user, urls.map(String)]),
  );

  const userOf = (user: string | undefined): string => {
    const name = user ?? users[0] ?? "";
    if (!keys.has(name)) throw new Error(`No user "${name}" on ${host} (has ${users.join(", ")}).`);
    return name;
  };
  const keysOf = (user: string | undefined): UserKeys => {
    const found = keys.get(userOf(user));
    if (found === undefined) throw new Error(`No keys for ${user}.`);
    return found;
  };
  const actorUrl = (user?: string) => actorUrlOf(origin, userOf(user));
  const keyIdOf = (user?: string) => new URL(`${actorUrl(user).href}#main-key`);
  const hosted = (user: string | undefined) =>
    user !== undefined && keys.has(user) && !deleted.has(user);

  const client = createClient({
    outgoing: { agent, timeoutMs: options.requestTimeoutMs ?? 10_000 },
    origin,
    keyIdOf,
    privateKeyOf: (user) => keysOf(user).privateKey,
  });
  const verify = createVerifier((url) => client.fetchObject(url, { signAs: signKeyFetchesAs }));

  async function remoteActor(target: URL): Promise<JsonObject> {
    const known = knownActors.get(target.href) ?? (await client.fetchObject(target));
    knownActors.set(target.href, known);
    return known;
  }

  async function inboxOf(target: URL): Promise<URL> {
    const actor = await remoteActor(target);
    if (typeof actor.inbox !== "string") throw new Error(`Actor ${target.href} has no inbox.`);
    return new URL(actor.inbox);
  }

  function record(entry: Omit<ReceivedRequest, "seq" | "receivedAt">): void {
    const request: ReceivedRequest = { seq: log.length + 1, receivedAt: new Date(), ...entry };
    log.push(request);
    for (const waiter of waiters) waiter(request);
  }

  async function onInbox(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    user: string | undefined,
  ): Promise<void> {
    const modeNow = mode;
    const body = await readBody(req, BODY_LIMIT);
    const headers = flattenHeaders(req.headers);
    const rawBody = body === undefined ? "" : body.toString("utf8");
    const activity = parseJsonObject(rawBody);
    const type = typeof activity?.type === "string" ? activity.type : undefined;
    const path = new URL(req.url ?? "/", origin).pathname;
    const base = { path, user, headers, rawBody, activity, type, mode: modeNow };
    const refuse = (status: number, reason: string, more: Partial<ReceivedRequest> = {}) => {
      record({
        ...base,
        verified: false,
        reason,
        keyId: undefined,
        signer: undefined,
        status,
        ...more,
      });
      if (status !== 0) answer(res, status, { error: reason });
    };
    if (modeNow !== "ok") {
      // "hang" answers nothing; close() drops the socket.
      const status = { "down-500": 500, "gone-410": 410, "server-gone": 410, hang: 0 }[modeNow];
      return refuse(status, `inbox mode is ${modeNow}`);
    }
    if (body === undefined) return refuse(413, "Body too large");
    const verdict = await verify({
      method: req.method ?? "POST",
      fullPath: req.url ?? path,
      header: (name) => headers[name],
      body,
    });
    if (!verdict.ok) {
      return refuse(verdict.status, verdict.reason, {
        keyId: verdict.keyId,
        signer: verdict.signer,
      });
    }
    record({
      ...base,
      verified: true,
      reason: undefined,
      keyId: verdict.keyId,
      signer: verdict.signer,
      status: 202,
    });
    res.writeHead(202).end();
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", origin);
    const path = url.pathname;
    if (req.method === "POST") {
      if (path === "/inbox") return onInbox(req, res, undefined);
      const owner = /^\/users\/([a-z0-9_]+)\/inbox$/.exec(path)?.[1];
      if (hosted(owner)) return onInbox(req, res, owner);
      req.resume();
      return answer(res, 404, { error: "not found" });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return answer(res, 405, { error: "method not allowed" });
    }
    if (mode === "server-gone") return answer(res, 410, { error: "gone" });
    if (path === "/.well-known/webfinger") {
      const resource = url.searchParams.get("resource") ?? "";
      if (resource === "") return answer(res, 400, { error: "resource is required" });
      const user = webfingerUser(origin, resource);
      if (!hosted(user) || user === undefined) return answer(res, 404, { error: "not found" });
      const jrd = webfingerJrd(origin, user);
      const links = [...asArray(jrd.links), ...(options.webfingerLinks ?? [])];
      return answer(res, 200, { ...jrd, links }, "application/jrd+json; charset=utf-8");
    }
    const match = /^\/users\/([a-z0-9_]+)(\/(outbox|followers|following))?$/.exec(path);
    const user = match?.[1];
    if (user === undefined || !keys.has(user)) return answer(res, 404, { error: "not found" });
    if (deleted.has(user)) return answer(res, 410, { error: "gone" });
    const document =
      match?.[3] === undefined
        ? {
            ...actorDocument(
              origin,
              user,
              keysOf(user).publicKeyPem,
              options.sharedInbox ?? true,
              aliases.get(user),
            ),
            name: options.names?.[user] ?? user,
            ...(options.published?.[user] ? { published: options.published[user] } : {}),
          }
        : emptyCollection(url.href);
    return answer(res, 200, document, `${ACTIVITY_CONTENT_TYPE}; charset=utf-8`);
  }

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: flattenHeaders(req.headers),
    });
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) answer(res, 500, { error: String(error) });
    });
  });

  return {
    origin,
    host,
    port,
    users,
    sharedInbox: new URL("/inbox", origin),
    actorUrl,
    inboxUrl: (user) => new URL(`${actorUrl(user).href}/inbox`),
    keyId: keyIdOf,
    handle: (user) => `${userOf(user)}@${host}`,
    publicKeyPem: (user) => keysOf(user).publicKeyPem,
    get: client.get,
    fetchObject: client.fetchObject,
    post: client.post,

    async lookup(handle, lookupOptions = {}) {
      const acct = handle.replace(/^acct:/, "").replace(/^@/, "");
      const at = acct.lastIndexOf("@");
      if (at <= 0) throw new Error(`Not a handle: "${handle}".`);
      // Mastodon puts the resource in the query as is: acct:user@host, not percent-encoded.
      const webfinger = new URL(
        `http://${acct.slice(at + 1)}/.well-known/webfinger?resource=acct:${acct}`,
      );
      const response = await client.get(webfinger, {
        signAs: lookupOptions.signAs,
        accept: "application/jrd+json, application/json",
      });
      if (response.status !== 200) {
        throw new Error(`WebFinger for ${acct} answered HTTP ${response.status}.`);
      }
      const jrd = parseJsonObject(response.body);
      if (jrd === undefined || typeof jrd.subject !== "string" || jrd.subject === "") {
        throw new Error(`WebFinger for ${acct} answered no JRD with a subject.`);
      }
      const self = asArray(jrd.links).find(
        (link) =>
          isObject(link) && link.rel === "self" && isActivityContentType(String(link.type ?? "")),
      );
      const href = isObject(self) ? self.href : undefined;
      if (typeof href !== "string") {
        throw new Error(`WebFinger for ${acct} has no self link to an actor.`);
      }
      const actorUrlFound = new URL(href);
      const actor = await client.fetchObject(actorUrlFound, lookupOptions);
      if (actor.id !== actorUrlFound.href) {
        throw new Error(`Actor at ${href} has id ${String(actor.id)}.`);
      }
      if (typeof actor.inbox !== "string") throw new Error(`Actor ${href} has no inbox.`);
      const shared = isObject(actor.endpoints) ? actor.endpoints.sharedInbox : undefined;
      knownActors.set(actorUrlFound.href, actor);
      return {
        jrd,
        actorUrl: actorUrlFound,
        actor,
        inbox: new URL(actor.inbox),
        sharedInbox: typeof shared === "string" ? new URL(shared) : undefined,
      };
    },

    async follow(user, target) {
      const id = new URL(`${actorUrl(user).href}#follows/${randomUUID()}`);
      await client.deliver(user, await inboxOf(target), followActivity(id, actorUrl(user), target));
      follows.set(`${userOf(user)} ${target.href}`, id);
      return id;
    },

    async unfollow(user, target) {
      const key = `${userOf(user)} ${target.href}`;
      const followId =
        follows.get(key) ?? new URL(`${actorUrl(user).href}#follows/${randomUUID()}`);
      const undo = undoFollowActivity(followId, actorUrl(user), target);
      await client.deliver(user, await inboxOf(target), undo);
      follows.delete(key);
      return new URL(String(undo.id));
    },

    async requestQuote(user, post, quoting) {
      const author = idOf((await client.fetchObject(post)).attributedTo);
      if (author === undefined) throw new Error(`${post.href} names no author.`);
      const quotePost = quoting ?? new URL(`${actorUrl(user).href}/statuses/${randomUUID()}`);
      const request = new URL(`${quotePost.href}#quote-requests/${randomUUID()}`);
      const activity = quoteRequestActivity(request, actorUrl(user), post, quotePost);
      await client.deliver(user, await inboxOf(new URL(author)), activity);
      return { request, quotePost, activity };
    },

    async deleteActor(user, deleteOptions = {}) {
      const name = userOf(user);
      const followed = [...follows.keys()]
        .filter((key) => key.startsWith(`${name} `))
        .map((key) => new URL(key.slice(name.length + 1)));
      // Mastodon delivers to each account's preferred inbox: the shared one if any.
      const inboxes =
        deleteOptions.inboxes ??
        (await Promise.all(
          followed.map(async (target) => {
            const actor = await remoteActor(target);
            const shared = isObject(actor.endpoints) ? actor.endpoints.sharedInbox : undefined;
            return typeof shared === "string" ? new URL(shared) : inboxOf(target);
          }),
        ));
      const unique = [...new Map(inboxes.map((inbox) => [inbox.href, inbox])).values()];
      const activity = deleteActorActivity(actorUrl(name));
      if (deleteOptions.goneFirst === true) deleted.add(name);
      try {
        await Promise.all(unique.map((inbox) => client.deliver(name, inbox, activity)));
      } finally {
        deleted.add(name);
      }
      return new URL(String(activity.id));
    },

    requests: () => [...seen],

    received(filter) {
      if (filter === undefined) return [...log];
      if (typeof filter === "function") return log.filter(filter);
      return log.filter(
        (request) =>
          (filter.type === undefined || request.type === filter.type) &&
          (filter.verified === undefined || request.verified === filter.verified) &&
          (filter.path === undefined || request.path === filter.path) &&
          (filter.user === undefined || request.user === filter.user),
      );
    },

    waitFor(predicate, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 5_000;
      const matches = (request: ReceivedRequest) =>
        request.verified && request.activity !== undefined && predicate(request.activity, request);
      const already = log.find(matches);
      if (already !== undefined) return Promise.resolve(already);
      return new Promise<ReceivedRequest>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          closers.delete(onClose);
        };
        const waiter = (request: ReceivedRequest) => {
          if (!matches(request)) return;
          done();
          resolve(request);
        };
        const onClose = (error: Error) => {
          done();
          reject(error);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `waitFor on ${host}: nothing matched within ${timeoutMs} ms; ${describe(log)}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
        closers.add(onClose);
      });
    },

    setAliases(user, urls) {
      aliases.set(userOf(user), urls.map(String));
    },

    setMode(next) {
      mode = next;
    },
    get mode() {
      return mode;
    },

    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      for (const onClose of [...closers]) onClose(new Error(`Fake remote ${host} was closed.`));
      await closed;
    },
  };
}

function describe(log: readonly ReceivedRequest[]): string {
  if (log.length === 0) return "received nothing.";
  const lines = log.map(
    (r) =>
      `#${r.seq} POST ${r.path} ${r.type ?? "(no type)"} → ${r.status === 0 ? "left hanging" : r.status}` +
      (r.verified ? " verified" : ` refused: ${r.reason ?? "?"}`),
  );
  return `received ${log.length}:\n  ${lines.join("\n  ")}`;
}
