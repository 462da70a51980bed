/**
 * A fake Mastodon-like fediverse server for Herald's federation tests: real HTTP on 127.0.0.1,
 * signing and checking draft-cavage HTTP Signatures the way Mastodon does (see
 * `cavage-signature.ts`), written with `node:http` and `node:crypto` only so that Herald (built on
 * Fedify) is not just tested against Fedify itself.
 *
 * Behaviour taken from Mastodon (github.com/mastodon/mastodon):
 * - inbox: `app/controllers/activitypub/inboxes_controller.rb` (401 on a bad signature, 202 once
 *   accepted) and `app/lib/signed_request.rb` (the checks);
 * - key lookup: `app/services/activitypub/fetch_remote_key_service.rb` and `JsonLdHelper#fetch_resource`
 *   (dereference the keyId with `Accept: application/activity+json, application/ld+json`, only a
 *   200 with an ActivityPub content type counts, the document's `id` must match, a bare Key must be
 *   claimed back by its owner's `publicKey`);
 * - actor check: `app/services/activitypub/process_collection_service.rb` (`different_actor?`);
 *   Mastodon then falls back to a Linked Data Signature and otherwise drops the activity silently
 *   with 202; this fake knows no LD signatures and answers 401 with a reason instead, so tests see it;
 * - WebFinger: `app/lib/webfinger.rb` (client) and `app/serializers/webfinger_serializer.rb`;
 * - activities: `FollowSerializer`, `UndoFollowSerializer`, `DeleteActorSerializer`.
 */

import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import {
  checkSignature,
  digestHeader,
  GET_SIGNED_HEADERS,
  httpDate,
  type IncomingRequest,
  POST_SIGNED_HEADERS,
  SignatureError,
  signatureHeader,
  verifySignature,
} from "./cavage-signature.ts";

export const AS_CONTEXT = "https://www.w3.org/ns/activitystreams";
export const SECURITY_CONTEXT = "https://w3id.org/security/v1";
export const PUBLIC_COLLECTION = "https://www.w3.org/ns/activitystreams#Public";
/** The Accept header of Mastodon's ActivityPub fetches (`JsonLdHelper#build_request`). */
export const ACTIVITY_ACCEPT = "application/activity+json, application/ld+json";
const ACTIVITY_CONTENT_TYPE = "application/activity+json";
/** `ActivityPub::FetchRemoteActorService::SUPPORTED_TYPES`. */
const ACTOR_TYPES = ["Application", "Group", "Organization", "Person", "Service"];
const BODY_LIMIT = 1024 * 1024;

/** A JSON object as received or sent. */
export type JsonObject = { readonly [key: string]: unknown };

/** An RSA key pair in PEM (PKCS#8 private, SPKI public). */
export interface FakeKeyPair {
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
}

/** How the inboxes answer: normally, 500, 410, or never (the socket stays open until `close()`). */
export type FakeRemoteMode = "ok" | "down-500" | "gone-410" | "hang";

export interface FakeRemoteOptions {
  /** Listen port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** Hosted usernames, `[a-z0-9_]+`; default `["alice"]`. */
  readonly users?: readonly string[];
  /** One key pair for every user (cheap); default a fresh RSA-2048 pair per user. */
  readonly keyPair?: FakeKeyPair;
  /** Initial inbox mode; default `"ok"`. */
  readonly mode?: FakeRemoteMode;
  /**
   * Sign the key fetches made while verifying inbox requests as this hosted user, for peers in
   * authorized-fetch mode (Mastodon signs them as its instance actor). Default: unsigned.
   */
  readonly signKeyFetchesAs?: string;
  /** Timeout of every outgoing request; default 10 000 ms. */
  readonly requestTimeoutMs?: number;
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

/** A raw HTTP answer. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What {@link FakeRemote.lookup} found. */
export interface LookupResult {
  /** The WebFinger JRD. */
  readonly jrd: JsonObject;
  readonly actorUrl: URL;
  readonly actor: JsonObject;
  readonly inbox: URL;
  readonly sharedInbox: URL | undefined;
}

/** Ways to spoil a request made by {@link FakeRemote.post}, for hostile tests. */
export interface Tamper {
  /** Send no `Signature` header. */
  readonly unsigned?: boolean;
  /** The `Date` to send and sign; default now. */
  readonly date?: Date;
  /** The `Digest` header to send and sign instead of the body's. */
  readonly digest?: string;
  /** The body actually sent, after `Digest` and signature were made over the activity. */
  readonly bodyAfterSigning?: string;
  /** The `keyId` to announce; default `actorUrl#main-key`. */
  readonly keyId?: string;
  /** Sign with this private key instead of the user's own. */
  readonly privateKeyPem?: string;
  /** The covered headers; default `(request-target) host date digest`. */
  readonly signedHeaders?: readonly string[];
  /** The `algorithm` parameter; default `rsa-sha256`; `null` leaves it out. */
  readonly algorithm?: string | null;
  /** More request headers, sent and available for `signedHeaders`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Headers set (lower-case names) after signing, e.g. a `digest` matching `bodyAfterSigning`. */
  readonly headersAfterSigning?: Readonly<Record<string, string>>;
}

export interface FakeRemote {
  /** `http://127.0.0.1:PORT` */
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
  lookup(handle: string, options?: { readonly signAs?: string }): Promise<LookupResult>;
  /**
   * GETs an ActivityPub document (`Accept: application/activity+json, application/ld+json`),
   * optionally signed; throws unless 200 with an ActivityPub content type and a JSON object body.
   */
  fetchObject(url: URL, options?: { readonly signAs?: string }): Promise<JsonObject>;
  /** A raw GET, optionally signed, for tests of what a server answers. Never throws on status. */
  get(url: URL, options?: { readonly signAs?: string; readonly accept?: string }): Promise<HttpResult>;
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
   * POSTs `activity` (an object, serialized here, or a raw string) to `inbox`, signed as `user`
   * exactly as Mastodon's delivery does, or spoiled per `tamper`. Never throws on status.
   */
  post(user: string, inbox: URL, activity: JsonObject | string, tamper?: Tamper): Promise<HttpResult>;

  /** Inbox requests received so far, oldest first, optionally filtered. */
  received(filter?: ReceivedFilter): readonly ReceivedRequest[];
  /**
   * The first verified inbox request whose activity matches (already received or arriving within
   * `timeoutMs`, default 5 000). Rejects with a list of everything received when none does.
   */
  waitFor(
    predicate: (activity: JsonObject, request: ReceivedRequest) => boolean,
    options?: { readonly timeoutMs?: number },
  ): Promise<ReceivedRequest>;
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

/**
 * Starts `count` fake servers on distinct ports, all signing with one key pair (the fixture pair
 * unless `options.keyPair` is given), so that a thousand hosts start in well under a second.
 */
export async function startFakeRemotes(
  count: number,
  options: Omit<FakeRemoteOptions, "port"> = {},
): Promise<FakeRemote[]> {
  const keyPair = options.keyPair ?? loadFixtureKeyPair();
  const keys = parseKeyPair(keyPair);
  const started = await Promise.allSettled(
    Array.from({ length: count }, () => start({ ...options, keyPair }, keys)),
  );
  const remotes = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
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

interface KnownKey {
  readonly owner: URL;
  readonly publicKey: KeyObject;
}

function parseKeyPair(keyPair: FakeKeyPair): UserKeys {
  return {
    publicKeyPem: createPublicKey(keyPair.publicKeyPem).export({ type: "spki", format: "pem" }).toString(),
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

async function start(options: FakeRemoteOptions, shared: UserKeys | undefined): Promise<FakeRemote> {
  const users = options.users ?? ["alice"];
  if (users.length === 0) throw new Error("A fake remote needs at least one user.");
  for (const user of users) {
    if (!/^[a-z0-9_]+$/.test(user)) throw new Error(`Usernames are [a-z0-9_]+ (got "${user}").`);
  }
  if (options.signKeyFetchesAs !== undefined && !users.includes(options.signKeyFetchesAs)) {
    throw new Error(`signKeyFetchesAs must be a hosted user (got "${options.signKeyFetchesAs}").`);
  }
  const keys = new Map<string, UserKeys>();
  for (const user of users) keys.set(user, shared ?? (await generateUserKeys()));
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const origin = new URL(`http://127.0.0.1:${port}`);
  const host = origin.host;

  let mode: FakeRemoteMode = options.mode ?? "ok";
  const log: ReceivedRequest[] = [];
  const waiters = new Set<(request: ReceivedRequest) => void>();
  const knownKeys = new Map<string, KnownKey>();
  const knownActors = new Map<string, JsonObject>();
  const follows = new Map<string, URL>(); // `${user} ${target}` → Follow id
  const deleted = new Set<string>();
  const closers = new Set<(error: Error) => void>();

  const userOf = (user: string | undefined): string => {
    const name = user ?? users[0] ?? "";
    if (!keys.has(name)) throw new Error(`No user "${name}" on ${host} (has ${users.join(", ")}).`);
    return name;
  };
  const actorUrl = (user?: string) => new URL(`/users/${userOf(user)}`, origin);
  const keyIdOf = (user?: string) => new URL(`/users/${userOf(user)}#main-key`, origin);
  const keysOf = (user: string): UserKeys => {
    const found = keys.get(userOf(user));
    if (found === undefined) throw new Error(`No keys for ${user}.`);
    return found;
  };

  // ---- outgoing requests ----------------------------------------------------------------------

  /** One request over node:http; refuses anything but plain http to loopback. */
  function send(
    method: "GET" | "POST",
    url: URL,
    headers: Readonly<Record<string, string>>,
    body?: string,
  ): Promise<HttpResult> {
    if (url.protocol !== "http:" || !isLoopback(url.hostname)) {
      return Promise.reject(new Error(`The fake remote only talks to http://127.0.0.1 (got ${url.href}).`));
    }
    return new Promise((resolve, reject) => {
      const request = http.request(
        url,
        { method, headers, agent, setHost: false, timeout: timeoutMs },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: flattenHeaders(response.headers),
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      request.on("timeout", () =>
        request.destroy(new Error(`${method} ${url.href} timed out after ${timeoutMs} ms.`)),
      );
      request.on("error", reject);
      request.end(body);
    });
  }

  function signedGetHeaders(url: URL, accept: string, signAs: string | undefined) {
    const headers: Record<string, string> = {
      host: url.host,
      date: httpDate(new Date()),
      accept,
      "user-agent": `fake-remote (Mastodon-like; +${origin.href})`,
    };
    if (signAs !== undefined) {
      headers.signature = signatureHeader({
        method: "GET",
        url,
        headers,
        covered: GET_SIGNED_HEADERS,
        keyId: keyIdOf(signAs).href,
        privateKey: keysOf(signAs).privateKey,
      });
    }
    return headers;
  }

  function get(url: URL, opts: { readonly signAs?: string; readonly accept?: string } = {}) {
    return send("GET", url, signedGetHeaders(url, opts.accept ?? ACTIVITY_ACCEPT, opts.signAs));
  }

  async function fetchObject(url: URL, opts: { readonly signAs?: string } = {}): Promise<JsonObject> {
    const response = await get(url, opts);
    if (response.status !== 200) throw new Error(`GET ${url.href} answered HTTP ${response.status}.`);
    const type = response.headers["content-type"] ?? "";
    if (!isActivityContentType(type)) {
      throw new Error(`GET ${url.href} answered Content-Type "${type}", not ActivityPub.`);
    }
    const json = parseJsonObject(response.body);
    if (json === undefined) throw new Error(`GET ${url.href} answered no JSON object.`);
    return json;
  }

  async function post(
    user: string,
    inbox: URL,
    activity: JsonObject | string,
    tamper: Tamper = {},
  ): Promise<HttpResult> {
    const body = typeof activity === "string" ? activity : JSON.stringify(activity);
    const headers: Record<string, string> = {
      host: inbox.host,
      date: httpDate(tamper.date ?? new Date()),
      digest: tamper.digest ?? digestHeader(body),
      "content-type": ACTIVITY_CONTENT_TYPE,
      "user-agent": `fake-remote (Mastodon-like; +${origin.href})`,
      ...lowerCaseKeys(tamper.headers ?? {}),
    };
    if (tamper.unsigned !== true) {
      headers.signature = signatureHeader({
        method: "POST",
        url: inbox,
        headers,
        covered: tamper.signedHeaders ?? POST_SIGNED_HEADERS,
        keyId: tamper.keyId ?? keyIdOf(user).href,
        privateKey:
          tamper.privateKeyPem === undefined
            ? keysOf(user).privateKey
            : createPrivateKey(tamper.privateKeyPem),
        algorithm: tamper.algorithm,
      });
    }
    Object.assign(headers, lowerCaseKeys(tamper.headersAfterSigning ?? {}));
    return send("POST", inbox, headers, tamper.bodyAfterSigning ?? body);
  }

  async function deliver(user: string, inbox: URL, activity: JsonObject): Promise<void> {
    const response = await post(user, inbox, activity);
    if (response.status < 200 || response.status > 299) {
      throw new Error(
        `POST ${activity.type} to ${inbox.href} answered HTTP ${response.status}: ${response.body.slice(0, 500)}`,
      );
    }
  }

  async function remoteActor(target: URL): Promise<JsonObject> {
    const known = knownActors.get(target.href);
    if (known !== undefined) return known;
    const actor = await fetchObject(target);
    knownActors.set(target.href, actor);
    return actor;
  }

  // ---- key lookup (verifier side) -------------------------------------------------------------

  /** `FetchRemoteKeyService#call` with `id: false`: the actor owning `keyId`, and its key. */
  async function fetchKey(keyId: string): Promise<KnownKey> {
    let url: URL;
    try {
      url = new URL(keyId);
    } catch {
      throw new SignatureError(`Public key not found for key ${keyId}`);
    }
    const fetch = (target: URL) => fetchObject(target, { signAs: options.signKeyFetchesAs });
    let json = await fetch(url);
    if (typeof json.id !== "string") throw new SignatureError(`Unable to fetch key JSON at ${keyId}`);
    if (json.id !== stripHash(url) && json.id !== keyId) {
      // `fetch_resource(uri, false)` trusts the id it got and dereferences that instead.
      const id = json.id;
      json = await fetch(new URL(id));
      if (json.id !== id) throw new SignatureError(`Fetched URI ${id} has wrong id ${String(json.id)}`);
    }
    if (!hasContext(json)) throw new SignatureError(`Unsupported JSON-LD context for document ${keyId}`);
    if (isActor(json)) return keyOfActor(json, keyId);
    if (typeof json.publicKeyPem === "string" && json.owner !== undefined) {
      const ownerId = idOf(json.owner) ?? "";
      const owner = await fetch(new URL(ownerId));
      if (owner.id !== ownerId || !hasContext(owner) || !isActor(owner)) {
        throw new SignatureError(`Unable to fetch actor JSON ${ownerId}`);
      }
      if (!asArray(owner.publicKey).some((key) => idOf(key) === json.id)) {
        throw new SignatureError(`publicKey id for ${ownerId} does not correspond to ${String(json.id)}`);
      }
      return { owner: new URL(ownerId), publicKey: createPublicKey(json.publicKeyPem) };
    }
    throw new SignatureError(`Unexpected object type for key ${keyId}`);
  }

  function keyOfActor(actor: JsonObject, keyId: string): KnownKey {
    const key = asArray(actor.publicKey).find((entry) => idOf(entry) === keyId);
    const pem = isObject(key) ? key.publicKeyPem : undefined;
    if (typeof pem !== "string") {
      throw new SignatureError(`Actor ${String(actor.id)} has no publicKey with id ${keyId}`);
    }
    if (isObject(key) && key.owner !== undefined && idOf(key.owner) !== actor.id) {
      throw new SignatureError(`Key ${keyId} is owned by ${String(idOf(key.owner))}, not ${String(actor.id)}`);
    }
    try {
      return { owner: new URL(String(actor.id)), publicKey: createPublicKey(pem) };
    } catch {
      throw new SignatureError(`Key ${keyId} holds no usable public key`);
    }
  }

  // ---- inbox ----------------------------------------------------------------------------------

  type Verdict =
    | { readonly ok: true; readonly keyId: string; readonly signer: URL; readonly activity: JsonObject }
    | { readonly ok: false; readonly status: number; readonly reason: string; readonly keyId?: string; readonly signer?: URL };

  async function verifyInbox(incoming: IncomingRequest): Promise<Verdict> {
    let keyId: string | undefined;
    try {
      const checked = checkSignature(incoming, new Date());
      keyId = checked.keyId;
      const cached = knownKeys.get(keyId);
      let key = cached ?? (await fetchKey(keyId));
      let good = verifySignature(incoming, checked, key.publicKey);
      if (!good && cached !== undefined) {
        // Mastodon refreshes the actor's key once before refusing (`actor_refresh_key!`).
        key = await fetchKey(keyId);
        good = verifySignature(incoming, checked, key.publicKey);
      }
      knownKeys.set(keyId, key);
      if (!good) {
        return {
          ok: false,
          status: 401,
          keyId,
          reason: `Verification failed for ${key.owner.href} using rsa-sha256 (RSASSA-PKCS1-v1_5 with SHA-256)`,
        };
      }
      const activity = parseJsonObject(Buffer.from(incoming.body).toString("utf8"));
      if (activity === undefined) {
        return { ok: false, status: 400, keyId, signer: key.owner, reason: "Body is not a JSON object" };
      }
      const actor = idOf(activity.actor);
      if (actor !== undefined && actor !== key.owner.href) {
        return {
          ok: false,
          status: 401,
          keyId,
          signer: key.owner,
          reason: `Key ${keyId} belongs to ${key.owner.href}, not to the activity's actor ${actor}`,
        };
      }
      return { ok: true, keyId, signer: key.owner, activity };
    } catch (error) {
      const reason =
        error instanceof SignatureError
          ? error.message
          : `Failed to fetch remote data: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, status: 401, reason, keyId };
    }
  }

  function record(entry: Omit<ReceivedRequest, "seq" | "receivedAt">): ReceivedRequest {
    const request: ReceivedRequest = { seq: log.length + 1, receivedAt: new Date(), ...entry };
    log.push(request);
    for (const waiter of waiters) waiter(request);
    return request;
  }

  async function onInbox(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    user: string | undefined,
  ): Promise<void> {
    const modeNow = mode;
    const body = await readBody(req);
    const headers = flattenHeaders(req.headers);
    const rawBody = body === undefined ? "" : body.toString("utf8");
    const activity = parseJsonObject(rawBody);
    const base = {
      path,
      user,
      headers,
      rawBody,
      activity,
      type: typeof activity?.type === "string" ? activity.type : undefined,
      mode: modeNow,
    };
    if (modeNow !== "ok") {
      const status = modeNow === "down-500" ? 500 : modeNow === "gone-410" ? 410 : 0;
      record({ ...base, verified: false, reason: `inbox mode is ${modeNow}`, keyId: undefined, signer: undefined, status });
      if (status !== 0) answer(res, status, { error: `inbox mode is ${modeNow}` });
      return; // "hang": no answer; close() drops the socket
    }
    if (body === undefined) {
      record({ ...base, verified: false, reason: "Body too large", keyId: undefined, signer: undefined, status: 413 });
      answer(res, 413, { error: "Body too large" });
      return;
    }
    const verdict = await verifyInbox({
      method: req.method ?? "POST",
      fullPath: req.url ?? path,
      header: (name) => headers[name],
      body,
    });
    if (verdict.ok) {
      record({ ...base, verified: true, reason: undefined, keyId: verdict.keyId, signer: verdict.signer, status: 202 });
      res.writeHead(202).end();
    } else {
      record({
        ...base,
        verified: false,
        reason: verdict.reason,
        keyId: verdict.keyId,
        signer: verdict.signer,
        status: verdict.status,
      });
      answer(res, verdict.status, { error: verdict.reason });
    }
  }

  // ---- documents ------------------------------------------------------------------------------

  function actorDocument(user: string): JsonObject {
    const id = actorUrl(user).href;
    return {
      "@context": [AS_CONTEXT, SECURITY_CONTEXT],
      id,
      type: "Person",
      preferredUsername: user,
      name: user,
      summary: `<p>Fake Mastodon-like account ${user}@${host} for tests.</p>`,
      url: new URL(`/@${user}`, origin).href,
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      followers: `${id}/followers`,
      following: `${id}/following`,
      manuallyApprovesFollowers: false,
      discoverable: true,
      endpoints: { sharedInbox: new URL("/inbox", origin).href },
      publicKey: { id: keyIdOf(user).href, owner: id, publicKeyPem: keysOf(user).publicKeyPem },
    };
  }

  function webfinger(resource: string | null): { status: number; json: JsonObject } {
    if (resource === null || resource === "") return { status: 400, json: { error: "resource is required" } };
    const acct = /^acct:([a-z0-9_]+)@(.+)$/.exec(resource);
    const byUrl = /^\/users\/([a-z0-9_]+)$/.exec(safePath(resource, origin) ?? "");
    const user = acct !== null && acct[2] === host ? acct[1] : byUrl?.[1];
    if (user === undefined || !keys.has(user) || deleted.has(user)) {
      return { status: 404, json: { error: "not found" } };
    }
    const actor = actorUrl(user).href;
    const profile = new URL(`/@${user}`, origin).href;
    return {
      status: 200,
      json: {
        subject: `acct:${user}@${host}`,
        aliases: [profile, actor],
        links: [
          { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: profile },
          { rel: "self", type: ACTIVITY_CONTENT_TYPE, href: actor },
        ],
      },
    };
  }

  function emptyCollection(id: string): JsonObject {
    return { "@context": AS_CONTEXT, id, type: "OrderedCollection", totalItems: 0, orderedItems: [] };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", origin);
    const path = url.pathname;
    if (req.method === "POST") {
      if (path === "/inbox") return onInbox(req, res, path, undefined);
      const inbox = /^\/users\/([a-z0-9_]+)\/inbox$/.exec(path);
      if (inbox?.[1] !== undefined && keys.has(inbox[1]) && !deleted.has(inbox[1])) {
        return onInbox(req, res, path, inbox[1]);
      }
      req.resume();
      return answer(res, 404, { error: "not found" });
    }
    if (req.method !== "GET" && req.method !== "HEAD") return answer(res, 405, { error: "method not allowed" });
    if (path === "/.well-known/webfinger") {
      const found = webfinger(url.searchParams.get("resource"));
      return answer(res, found.status, found.json, "application/jrd+json; charset=utf-8");
    }
    const match = /^\/users\/([a-z0-9_]+)(\/(outbox|followers|following))?$/.exec(path);
    const user = match?.[1];
    if (user === undefined || !keys.has(user)) return answer(res, 404, { error: "not found" });
    if (deleted.has(user)) return answer(res, 410, { error: "gone" });
    const document = match?.[3] === undefined ? actorDocument(user) : emptyCollection(url.href);
    return answer(res, 200, document, `${ACTIVITY_CONTENT_TYPE}; charset=utf-8`);
  }

  server.on("request", (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) answer(res, 500, { error: String(error) });
    });
  });

  // ---- the handle given to tests --------------------------------------------------------------

  const remote: FakeRemote = {
    origin,
    host,
    port,
    users,
    sharedInbox: new URL("/inbox", origin),
    actorUrl,
    inboxUrl: (user) => new URL(`/users/${userOf(user)}/inbox`, origin),
    keyId: keyIdOf,
    handle: (user) => `${userOf(user)}@${host}`,
    publicKeyPem: (user) => keysOf(userOf(user)).publicKeyPem,

    async lookup(handleText, opts = {}) {
      const acct = handleText.replace(/^acct:/, "").replace(/^@/, "");
      const at = acct.lastIndexOf("@");
      if (at <= 0) throw new Error(`Not a handle: "${handleText}".`);
      // Mastodon puts the resource in the query as is: acct:user@host, not percent-encoded.
      const wf = new URL(`http://${acct.slice(at + 1)}/.well-known/webfinger?resource=acct:${acct}`);
      const response = await get(wf, { signAs: opts.signAs, accept: "application/jrd+json, application/json" });
      if (response.status !== 200) throw new Error(`WebFinger for ${acct} answered HTTP ${response.status}.`);
      const jrd = parseJsonObject(response.body);
      if (jrd === undefined || typeof jrd.subject !== "string" || jrd.subject === "") {
        throw new Error(`WebFinger for ${acct} answered no JRD with a subject.`);
      }
      const self = asArray(jrd.links).find(
        (link) => isObject(link) && link.rel === "self" && isActivityContentType(String(link.type ?? "")),
      );
      const href = isObject(self) ? self.href : undefined;
      if (typeof href !== "string") throw new Error(`WebFinger for ${acct} has no self link to an actor.`);
      const actorUrlFound = new URL(href);
      const actor = await fetchObject(actorUrlFound, opts);
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

    fetchObject,
    get,
    post,

    async follow(user, target) {
      const actor = await remoteActor(target);
      if (typeof actor.inbox !== "string") throw new Error(`Actor ${target.href} has no inbox.`);
      const id = new URL(`/users/${userOf(user)}#follows/${randomUUID()}`, origin);
      await deliver(user, new URL(actor.inbox), {
        "@context": AS_CONTEXT,
        id: id.href,
        type: "Follow",
        actor: actorUrl(user).href,
        object: target.href,
      });
      follows.set(`${user} ${target.href}`, id);
      return id;
    },

    async unfollow(user, target) {
      const actor = await remoteActor(target);
      if (typeof actor.inbox !== "string") throw new Error(`Actor ${target.href} has no inbox.`);
      const followId =
        follows.get(`${user} ${target.href}`) ??
        new URL(`/users/${userOf(user)}#follows/${randomUUID()}`, origin);
      const id = new URL(`${followId.href}/undo`);
      await deliver(user, new URL(actor.inbox), {
        "@context": AS_CONTEXT,
        id: id.href,
        type: "Undo",
        actor: actorUrl(user).href,
        object: { id: followId.href, type: "Follow", actor: actorUrl(user).href, object: target.href },
      });
      follows.delete(`${user} ${target.href}`);
      return id;
    },

    async deleteActor(user, opts = {}) {
      const name = userOf(user);
      const inboxes =
        opts.inboxes ??
        (await Promise.all(
          [...follows.keys()]
            .filter((key) => key.startsWith(`${name} `))
            .map(async (key) => {
              const actor = await remoteActor(new URL(key.slice(name.length + 1)));
              const shared = isObject(actor.endpoints) ? actor.endpoints.sharedInbox : undefined;
              return new URL(String(typeof shared === "string" ? shared : actor.inbox));
            }),
        ));
      const unique = [...new Map(inboxes.map((inbox) => [inbox.href, inbox])).values()];
      const actor = actorUrl(name).href;
      const id = new URL(`${actor}#delete`);
      if (opts.goneFirst === true) deleted.add(name);
      try {
        await Promise.all(
          unique.map((inbox) =>
            deliver(name, inbox, {
              "@context": [AS_CONTEXT, SECURITY_CONTEXT],
              id: id.href,
              type: "Delete",
              actor,
              to: [PUBLIC_COLLECTION],
              object: actor,
            }),
          ),
        );
      } finally {
        deleted.add(name);
      }
      return id;
    },

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

    waitFor(predicate, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? 5_000;
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
          reject(new Error(`waitFor on ${host}: nothing matched within ${timeoutMs} ms; ${describe(log)}`));
        }, timeoutMs);
        waiters.add(waiter);
        closers.add(onClose);
      });
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
  return remote;
}

// ---- small pure helpers ---------------------------------------------------------------------

function isLoopback(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

/** Mastodon's `valid_activitypub_content_type?`. */
function isActivityContentType(value: string): boolean {
  const [type = "", ...params] = value.split(";").map((part) => part.trim());
  if (type.toLowerCase() === "application/activity+json") return true;
  if (type.toLowerCase() !== "application/ld+json") return false;
  return params.some(
    (param) =>
      param.startsWith('profile="') && param.slice(9, -1).split(/\s+/).includes(AS_CONTEXT),
  );
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

/** `value_or_id`. */
function idOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  return isObject(value) && typeof value.id === "string" ? value.id : undefined;
}

function isActor(json: JsonObject): boolean {
  return asArray(json.type).some((type) => typeof type === "string" && ACTOR_TYPES.includes(type));
}

/** `supported_context?`: the ActivityStreams context, alone or in the list. */
function hasContext(json: JsonObject): boolean {
  return asArray(json["@context"]).includes(AS_CONTEXT);
}

function stripHash(url: URL): string {
  const copy = new URL(url);
  copy.hash = "";
  return copy.href;
}

function safePath(value: string, origin: URL): string | undefined {
  try {
    const url = new URL(value);
    return url.origin === origin.origin ? url.pathname : undefined;
  } catch {
    return undefined;
  }
}

function parseJsonObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** The whole body, or `undefined` past 1 MiB. */
function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > BODY_LIMIT ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function answer(res: http.ServerResponse, status: number, json: JsonObject, type = "application/json; charset=utf-8"): void {
  const body = JSON.stringify(json);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(res.req.method === "HEAD" ? undefined : body);
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
