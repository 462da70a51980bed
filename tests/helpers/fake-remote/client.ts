/**
 * The requests a Mastodon server makes, signed as one of its accounts: GETs like
 * `JsonLdHelper#fetch_resource` (`app/helpers/jsonld_helper.rb`) and inbox deliveries like
 * `Request#on_behalf_of` (`app/lib/request.rb`: Host, Date, `Digest: SHA-256=…`,
 * `Content-Type: application/activity+json`, signature over `(request-target) host date digest`),
 * plus ways to spoil them.
 */

import { createPrivateKey, type KeyObject } from "node:crypto";
import {
  ACTIVITY_ACCEPT,
  ACTIVITY_CONTENT_TYPE,
  isActivityContentType,
  type JsonObject,
  parseJsonObject,
} from "./activitypub.ts";
import {
  digestHeader,
  GET_SIGNED_HEADERS,
  httpDate,
  POST_SIGNED_HEADERS,
  signatureHeader,
} from "./cavage-signature.ts";
import { type HttpResult, lowerCaseKeys, type Outgoing, send } from "./http.ts";

/** Ways to spoil a POST, for hostile tests. */
export interface Tamper {
  /** Send no `Signature` header. */
  readonly unsigned?: boolean;
  /** The `Date` to send and sign; default now. */
  readonly date?: Date;
  /** The `Digest` header to send and sign instead of the body's. */
  readonly digest?: string;
  /** The body actually sent, after `Digest` and signature were made over the activity. */
  readonly bodyAfterSigning?: string;
  /** Headers set (lower-case names) after signing, e.g. a `digest` matching `bodyAfterSigning`. */
  readonly headersAfterSigning?: Readonly<Record<string, string>>;
  /** The `keyId` to announce; default `actorUrl#main-key`. */
  readonly keyId?: string;
  /** Sign with this private key (PEM) instead of the user's own. */
  readonly privateKeyPem?: string;
  /** The covered headers; default `(request-target) host date digest`. */
  readonly signedHeaders?: readonly string[];
  /** The `algorithm` parameter; default `rsa-sha256`; `null` leaves it out. */
  readonly algorithm?: string | null;
  /** More request headers, sent and available for `signedHeaders`. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface GetOptions {
  /** Sign the GET as this hosted user (for servers in authorized-fetch mode). */
  readonly signAs?: string | undefined;
  /** The Accept header; default Mastodon's `application/activity+json, application/ld+json`. */
  readonly accept?: string;
}

export interface ClientDeps {
  readonly outgoing: Outgoing;
  /** Put in the User-Agent, as Mastodon names itself there. */
  readonly origin: URL;
  /** `actorUrl#main-key` of a hosted user; throws for an unknown one. */
  readonly keyIdOf: (user: string) => URL;
  readonly privateKeyOf: (user: string) => KeyObject;
}

export interface Client {
  get(url: URL, options?: GetOptions): Promise<HttpResult>;
  fetchObject(url: URL, options?: GetOptions): Promise<JsonObject>;
  post(
    user: string,
    inbox: URL,
    activity: JsonObject | string,
    tamper?: Tamper,
  ): Promise<HttpResult>;
  /** `post`, throwing unless the answer is 2xx. */
  deliver(user: string, inbox: URL, activity: JsonObject): Promise<void>;
}

export function createClient(deps: ClientDeps): Client {
  const userAgent = `fake-remote (Mastodon-like; +${deps.origin.href})`;

  function get(url: URL, options: GetOptions = {}): Promise<HttpResult> {
    const headers: Record<string, string> = {
      host: url.host,
      date: httpDate(new Date()),
      accept: options.accept ?? ACTIVITY_ACCEPT,
      "user-agent": userAgent,
    };
    if (options.signAs !== undefined) {
      headers.signature = signatureHeader({
        method: "GET",
        url,
        headers,
        covered: GET_SIGNED_HEADERS,
        keyId: deps.keyIdOf(options.signAs).href,
        privateKey: deps.privateKeyOf(options.signAs),
      });
    }
    return send(deps.outgoing, "GET", url, headers);
  }

  /** Only a 200 with an ActivityPub content type and a JSON object counts, as in Mastodon. */
  async function fetchObject(url: URL, options: GetOptions = {}): Promise<JsonObject> {
    const response = await get(url, options);
    if (response.status !== 200) {
      throw new Error(`GET ${url.href} answered HTTP ${response.status}.`);
    }
    const type = response.headers["content-type"] ?? "";
    if (!isActivityContentType(type)) {
      throw new Error(`GET ${url.href} answered Content-Type "${type}", not ActivityPub.`);
    }
    const json = parseJsonObject(response.body);
    if (json === undefined) throw new Error(`GET ${url.href} answered no JSON object.`);
    return json;
  }

  function post(
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
      "user-agent": userAgent,
      ...lowerCaseKeys(tamper.headers ?? {}),
    };
    if (tamper.unsigned !== true) {
      headers.signature = signatureHeader({
        method: "POST",
        url: inbox,
        headers,
        covered: tamper.signedHeaders ?? POST_SIGNED_HEADERS,
        keyId: tamper.keyId ?? deps.keyIdOf(user).href,
        privateKey:
          tamper.privateKeyPem === undefined
            ? deps.privateKeyOf(user)
            : createPrivateKey(tamper.privateKeyPem),
        algorithm: tamper.algorithm,
      });
    }
    Object.assign(headers, lowerCaseKeys(tamper.headersAfterSigning ?? {}));
    return send(deps.outgoing, "POST", inbox, headers, tamper.bodyAfterSigning ?? body);
  }

  async function deliver(user: string, inbox: URL, activity: JsonObject): Promise<void> {
    const response = await post(user, inbox, activity);
    if (response.status < 200 || response.status > 299) {
      throw new Error(
        `POST ${String(activity.type)} to ${inbox.href} answered HTTP ${response.status}: ${response.body.slice(0, 500)}`,
      );
    }
  }

  return { get, fetchObject, post, deliver };
}
