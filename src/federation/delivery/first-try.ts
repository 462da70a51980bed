/**
 * The first try of each delivery, sent by Herald itself; whatever does not simply succeed goes
 * to Fedify, which owns everything after.
 *
 * A fan-out is one queued message per inbox, and almost every one of them is a first try that
 * succeeds. Fedify 2.3.6 handles each (`#listenOutboxMessage()` and `sendActivityInternal()` in
 * @fedify/fedify's dist/middleware-*.js) by importing the private key from its JWK again,
 * building WHATWG `Headers` and `Request` objects, cloning the request to digest its body,
 * signing it, and sending it with `fetch`, whose streams and per-request objects cost more than
 * the signature: measured on the project's machine, a delivery cost Herald 1.9 ms of CPU
 * against 0.4 ms for a bare script that signs and POSTs, and 1.2 ms with this module
 * (docs/benchmarks-history.md, "Fan-out").
 * Here the same request (a draft-cavage signature over the same headers, the same body, with
 * the same deadline, size cap and `User-Agent`: `createFirstTryDispatcher()` of `outgoing.ts`) is made
 * with a key imported once, `node:crypto`'s signing in the thread pool and undici's `request()`.
 *
 * Fedify's handler gets the message, exactly as queued, in every other case:
 * - a retry, or a message held while its host's circuit is open;
 * - a host with any circuit-breaker record (failures counted, open, half-open): Fedify's
 *   `beforeSend()` decides, and a success clears the record;
 * - an origin that Fedify learned wants RFC 9421 signatures (by double-knocking);
 * - a message without an RSA key, or of a shape this module does not know;
 * - a first try that failed in any way: an answer other than 2xx (a refused signature, a
 *   redirect, `410 Gone`, `429`…) or a transport error. Fedify handles it as if it had sent it
 *   itself: its request to that inbox gets the recorded answer or error instead of going out
 *   again (`answeringOnce()` in `outgoing.ts`), so the server sees the request once, and Fedify
 *   takes it from there: double-knocking (whose second knock goes out), redirects, retries with
 *   backoff, the circuit breaker, permanent failures.
 *
 * A success leaves no record for Fedify to update: the host had none (Fedify's
 * `recordSuccess()` does nothing then), and draft-cavage is already what Fedify would try first.
 */
import { createPrivateKey, hash, type JsonWebKey, type KeyObject } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { KvStore, MessageQueue } from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import { type Dispatcher, request } from "undici";
import { signInPool } from "./crypto-shortcuts.ts";
import { circuitKey, specKey } from "./kv-cache.ts";
import { hookOutboxMessages, type OutboxMessage } from "./outbox-messages.ts";
import { answeringOnce, type RecordedAnswer } from "./outgoing.ts";

const logger = getLogger(["herald", "federation", "deliveries"]);

export const DRAFT_CAVAGE = "draft-cavage-http-signatures-12";

export interface FirstTryOptions {
  /**
   * The federation's KV store (the same object Fedify was given): the host's circuit state and
   * the origin's signature spec.
   */
  readonly kv: KvStore;
  /** The spec Fedify signs with when it knows none for an origin (its `firstKnock`). */
  readonly firstKnock: string;
  /** What first tries are sent through (`createFirstTryDispatcher()`); default the global one. */
  readonly dispatcher?: Dispatcher;
}

/**
 * `queue` whose listeners send a first try themselves (see above) before handing the message
 * to the listener Fedify registered.
 */
export function sendFirstTries(queue: MessageQueue, options: FirstTryOptions): MessageQueue {
  const send = firstTrySender(options);
  return hookOutboxMessages(queue, {
    async listen(message, handle) {
      const tried = isFirstTry(message) ? await send(message) : undefined;
      if (tried === "delivered") return;
      if (tried === undefined) return await handle();
      // Fedify sends it again to learn what happened: it gets the answer the server gave.
      await answeringOnce("POST", tried.inbox, tried.answer, handle);
    },
  });
}

/** How a first try went: accepted, or what the inbox answered otherwise (or the error). */
type Tried = "delivered" | { readonly inbox: URL; readonly answer: RecordedAnswer };

/** Sends `message` if it may be sent here (else undefined), and says how that went. */
function firstTrySender({ kv, firstKnock, dispatcher }: FirstTryOptions) {
  const keys = new Map<string, KeyObject>();
  const keyOf = (keyId: string, jwk: JsonWebKey): KeyObject => {
    // The modulus names the key pair: a key replaced under the same id is imported anew.
    const name = `${keyId} ${jwk.n}`;
    let key = keys.get(name);
    if (key === undefined) {
      key = createPrivateKey({ key: jwk, format: "jwk" });
      keys.set(name, key);
    }
    return key;
  };

  // The messages of a fan-out delivered as it is expanded (`deliver-now.ts`) share one activity
  // object: it is written out and digested once for all of them.
  const bodies = new WeakMap<object, RequestBody>();
  const bodyOf = (activity: unknown): RequestBody => {
    if (typeof activity !== "object" || activity === null) {
      return requestBody(JSON.stringify(activity));
    }
    let body = bodies.get(activity);
    if (body === undefined) {
      body = requestBody(JSON.stringify(activity));
      bodies.set(activity, body);
    }
    return body;
  };

  const plan = firstTryPlanner({ kv, firstKnock });
  return async (message: OutboxMessage): Promise<Tried | undefined> => {
    const planned = await plan(message);
    if (planned === undefined) return undefined;
    const { inbox, rsa } = planned;
    let headers: Record<string, string>;
    const body = bodyOf(message.activity);
    try {
      headers = await signedHeaders(inbox, body, message.headers ?? {}, {
        keyId: rsa.keyId,
        privateKey: keyOf(rsa.keyId, rsa.privateKey),
      });
    } catch (error) {
      logger.debug("Could not sign the first try to {inbox}; Fedify takes it: {error}", {
        inbox: inbox.href,
        error,
      });
      return undefined;
    }
    try {
      const response = await request(inbox, {
        method: "POST",
        headers,
        body: body.text,
        ...(dispatcher === undefined ? {} : { dispatcher }),
        // A fan-out talks to each server once: close the connection with the answer rather
        // than keep it idle (and its objects alive past V8's young generation) for nothing.
        reset: true,
      });
      if (response.statusCode >= 200 && response.statusCode < 300) {
        await response.body.dump();
        // Fedify's own line for a delivery (at `info` under `fedify`, shown with LOG_LEVEL=debug).
        logger.debug("Successfully sent activity {activityId} to {inbox}.", {
          activityId: message.activityId,
          inbox: inbox.href,
          activity: message.activity,
          attempt: message.attempt,
        });
        return "delivered";
      }
      const answer: RecordedAnswer = {
        status: response.statusCode,
        statusText: STATUS_CODES[response.statusCode] ?? "",
        headers: response.headers,
        body: Buffer.from(await response.body.arrayBuffer()),
      };
      return { inbox, answer };
    } catch (error) {
      return {
        inbox,
        answer: { error: error instanceof Error ? error : new Error(String(error)) },
      };
    }
  };
}

/**
 * Whether Herald sends a first try of `message` now (see above): an RSA key, and neither a
 * circuit-breaker record for the inbox's host nor another spec than draft-cavage for its
 * origin. `deliver-now.ts` asks it too.
 */
export function firstTryIsNext(
  options: FirstTryOptions,
): (message: OutboxMessage) => Promise<boolean> {
  const plan = firstTryPlanner(options);
  return async (message) => isFirstTry(message) && (await plan(message)) !== undefined;
}

/** The inbox and key of a first try of `message` if Herald sends it now, else undefined. */
function firstTryPlanner({ kv, firstKnock }: FirstTryOptions) {
  return async (message: OutboxMessage) => {
    const rsa = message.keys.find((pair) => pair.privateKey.kty === "RSA");
    if (rsa === undefined) return undefined;
    let inbox: URL;
    try {
      inbox = new URL(message.inbox);
    } catch {
      return undefined;
    }
    const [circuit, spec] = await Promise.all([
      kv.get(circuitKey(inbox.host)),
      kv.get(specKey(inbox.origin)),
    ]);
    if (circuit != null || (spec ?? firstKnock) !== DRAFT_CAVAGE) return undefined;
    return { inbox, rsa };
  };
}

/** A request's body and its `Digest` header. */
export interface RequestBody {
  readonly text: string;
  readonly digest: string;
}

export function requestBody(text: string): RequestBody {
  return { text, digest: `SHA-256=${hash("sha256", text, "base64")}` };
}

/**
 * The headers of a POST of `body` to `inbox`, signed as Fedify's `signRequestDraft()` signs
 * them (in @fedify/fedify's dist/http-*.js), byte for byte: draft-cavage, RSASSA-PKCS1-v1_5
 * over SHA-256, covering the request target and every header sent, in the order WHATWG
 * `Headers` lists them (lower case, sorted).
 */
export async function signedHeaders(
  inbox: URL,
  body: RequestBody,
  extra: Readonly<Record<string, string>>,
  key: { readonly keyId: string; readonly privateKey: KeyObject },
  now = new Date(),
): Promise<Record<string, string>> {
  const unsorted: Record<string, string> = {};
  for (const [name, value] of Object.entries(extra)) unsorted[name.toLowerCase()] = value.trim();
  unsorted["content-type"] = "application/activity+json";
  unsorted.host = inbox.host;
  unsorted.date = now.toUTCString();
  unsorted.digest = body.digest;
  const sorted = Object.entries(unsorted).sort(([a], [b]) => (a < b ? -1 : 1));
  const covered = [["(request-target)", `post ${inbox.pathname}`], ...sorted];
  const text = covered.map(([name, value]) => `${name}: ${value}`).join("\n");
  const signature = await signInPool(Buffer.from(text), key.privateKey);
  const headers = Object.fromEntries(sorted);
  headers.signature = [
    `keyId="${key.keyId}"`,
    `algorithm="rsa-sha256"`,
    `headers="${covered.map(([name]) => name).join(" ")}"`,
    `signature="${signature.toString("base64")}"`,
  ].join(",");
  return headers;
}

/** A first try, not held, of a message whose fields this module reads are as expected. */
function isFirstTry(message: OutboxMessage): boolean {
  return (
    message.attempt === 0 &&
    message.circuitHeld !== true &&
    typeof message.inbox === "string" &&
    Array.isArray(message.keys) &&
    message.keys.every(
      (pair) => typeof pair?.keyId === "string" && typeof pair.privateKey === "object",
    ) &&
    (message.headers === undefined || typeof message.headers === "object")
  );
}
