/**
 * draft-cavage HTTP Signatures (draft-cavage-http-signatures-12) the way Mastodon makes and checks
 * them, written from Mastodon's Ruby sources and not from Fedify, so that Herald's federation tests
 * meet an independent implementation. `node:crypto` only.
 *
 * Sources read (github.com/mastodon/mastodon, as stored in the search index; `signed_request.rb`
 * at 2551cc84, `signature_verification.rb` at 9120f127):
 * - signing: `app/lib/http_signature_draft.rb` (`sign`, `request_target`) and `app/lib/request.rb`
 *   (Host, Date, `Digest: SHA-256=<base64>`, `keyId` = `key_uri_for(actor)` = `actorUri#main-key`);
 * - checking: `app/lib/signed_request.rb` (`SignedRequest::HttpSignature`, `matches_time_window?`)
 *   and the older in-controller version `app/controllers/concerns/signature_verification.rb`
 *   (the `SignatureParamsParser` grammar and the failure messages reused below).
 */

import { createHash, createSign, createVerify, type KeyObject } from "node:crypto";

/** `SignedRequest::EXPIRATION_WINDOW_LIMIT`: the longest a signature may live, even with `expires`. */
export const EXPIRATION_WINDOW_LIMIT_MS = 12 * 60 * 60 * 1000;
/** `SignedRequest::CLOCK_SKEW_MARGIN`: tolerated clock difference, both ways. */
export const CLOCK_SKEW_MARGIN_MS = 60 * 60 * 1000;
/** Without an `expires` parameter a signature expires 5 minutes after its Date / `(created)`. */
export const DEFAULT_EXPIRY_MS = 5 * 60 * 1000;

/** The `(request-target)` pseudo-header (`HttpSignatureDraft::REQUEST_TARGET`). */
export const REQUEST_TARGET = "(request-target)";
/** What Mastodon covers on a POST (`Request#initialize` with a body); order is free. */
export const POST_SIGNED_HEADERS: readonly string[] = [REQUEST_TARGET, "host", "date", "digest"];
/** What Mastodon covers on a GET (`Request#initialize` without a body). */
export const GET_SIGNED_HEADERS: readonly string[] = [REQUEST_TARGET, "host", "date"];

/** A refused signature; `message` is the reason, worded like Mastodon's. */
export class SignatureError extends Error {
  override readonly name = "SignatureError";
}

/** `Digest` header value for a body: `SHA-256=<base64 of the SHA-256>` (`Request#set_digest!`). */
export function digestHeader(body: string | Uint8Array): string {
  return `SHA-256=${createHash("sha256").update(body).digest("base64")}`;
}

/** `Date` header value: IMF-fixdate, as Ruby's `Time#httpdate`. */
export function httpDate(date: Date): string {
  return date.toUTCString();
}

/** What to sign: the request as it will be sent. */
export interface SigningInput {
  readonly method: string;
  readonly url: URL;
  /** Header values as sent, keyed by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
  /** Covered headers in order, lower case, `(request-target)` included where wanted. */
  readonly covered: readonly string[];
  readonly keyId: string;
  readonly privateKey: KeyObject;
  /** The `algorithm` parameter; `null` leaves it out (the receiver then assumes hs2019). */
  readonly algorithm?: string | null | undefined;
}

/**
 * The `Signature` header value for a request, as `HttpSignatureDraft#sign` builds it:
 * `keyId="…",algorithm="rsa-sha256",headers="…",signature="…"` over RSASSA-PKCS1-v1_5 / SHA-256.
 */
export function signatureHeader(input: SigningInput): string {
  const signedString = input.covered
    .map((name) =>
      name === REQUEST_TARGET
        ? `${REQUEST_TARGET}: ${input.method.toLowerCase()} ${input.url.pathname}${input.url.search}`
        : `${name}: ${input.headers[name] ?? ""}`,
    )
    .join("\n");
  const signature = createSign("sha256").update(signedString).sign(input.privateKey, "base64");
  const algorithm = input.algorithm === undefined ? "rsa-sha256" : input.algorithm;
  return [
    `keyId="${input.keyId}"`,
    ...(algorithm === null ? [] : [`algorithm="${algorithm}"`]),
    `headers="${input.covered.join(" ")}"`,
    `signature="${signature}"`,
  ].join(",");
}

/** Parameters of a `Signature` header, raw (no unescaping, like Mastodon's parser). */
export type SignatureParams = Readonly<Record<string, string>>;

const TOKEN = /^[0-9a-zA-Z!#$%&'*+.^_`|~-]+/;

/**
 * Parses a `Signature` header with the grammar of Mastodon's `SignatureParamsParser`:
 * `token BWS "=" BWS (token / quoted-string)` separated by `BWS "," BWS`, with an optional bogus
 * `Signature ` prefix that old node-http-signature versions add. The whole value must parse.
 */
export function parseSignatureParams(header: string): SignatureParams {
  const params: Record<string, string> = {};
  let rest = header.startsWith("Signature ") ? header.slice("Signature ".length) : header;
  const fail = (): never => {
    throw new SignatureError("Error parsing signature parameters");
  };
  for (;;) {
    const key = TOKEN.exec(rest)?.[0] ?? fail();
    const equals = /^\s*=\s*/.exec(rest.slice(key.length)) ?? fail();
    rest = rest.slice(key.length + equals[0].length);
    const quoted = /^"((?:[^\\"]|\\[\s\S])*)"/.exec(rest);
    const value = quoted ? (quoted[1] ?? "") : (TOKEN.exec(rest)?.[0] ?? fail());
    rest = rest.slice(quoted ? quoted[0].length : value.length);
    params[key] = value;
    if (rest === "") return params;
    const comma = /^\s*,\s*/.exec(rest) ?? fail();
    rest = rest.slice(comma[0].length);
  }
}

/** A received request, as the verifier needs it. */
export interface IncomingRequest {
  readonly method: string;
  /** Path with the query string, as received (`original_fullpath`). */
  readonly fullPath: string;
  /** Header lookup by lower-case name; `undefined` when absent. */
  readonly header: (name: string) => string | undefined;
  readonly body: Uint8Array;
}

/** The result of the checks that need no key. */
export interface CheckedSignature {
  readonly params: SignatureParams;
  readonly keyId: string;
  readonly algorithm: string;
  readonly signedHeaders: readonly string[];
}

/**
 * Every check Mastodon runs before it looks up the key, in its order (`SignedRequest#verified?` and
 * `SignatureVerification#signed_request_actor`): signed at all, `keyId` and `signature` present,
 * algorithm `rsa-sha256` or `hs2019`, time window, signature strength, body digest.
 * Throws {@link SignatureError} with Mastodon's wording.
 */
export function checkSignature(request: IncomingRequest, now: Date): CheckedSignature {
  const header = request.header("signature");
  if (header === undefined || header === "") throw new SignatureError("Request not signed");
  const params = parseSignatureParams(header);
  const keyId = params.keyId ?? "";
  if (keyId === "" || (params.signature ?? "") === "") {
    throw new SignatureError("Incompatible request signature. keyId and signature are required");
  }
  const algorithm = params.algorithm ?? "hs2019";
  if (algorithm !== "rsa-sha256" && algorithm !== "hs2019") {
    throw new SignatureError(
      "Unsupported signature algorithm (only rsa-sha256 and hs2019 are supported)",
    );
  }
  const signedHeaders = (params.headers ?? (algorithm === "hs2019" ? "(created)" : "date"))
    .toLowerCase()
    .split(/\s+/)
    .filter((name) => name !== "");
  if (!matchesTimeWindow(params, algorithm, request.header("date"), now)) {
    throw new SignatureError("Signed request date outside acceptable time window");
  }
  checkStrength(signedHeaders, request.method);
  checkBodyDigest(signedHeaders, request.header("digest"), request.body);
  return { params, keyId, algorithm, signedHeaders };
}

/**
 * `SignedRequest#matches_time_window?`: the signature is made at `(created)` (hs2019) or `Date`,
 * expires at `expires` or 5 minutes later, never more than 12 hours later; both ends get a 1-hour
 * clock-skew margin. So a plain `Date` signature is good from 1 h in the future to 65 min in the past.
 */
export function matchesTimeWindow(
  params: SignatureParams,
  algorithm: string,
  dateHeader: string | undefined,
  now: Date,
): boolean {
  let created: number | undefined;
  if (algorithm === "hs2019" && (params.created ?? "") !== "") {
    created = rubyToI(params.created ?? "") * 1000;
  } else if (dateHeader !== undefined && dateHeader !== "") {
    created = parseHttpDate(dateHeader);
  }
  let expires = (params.expires ?? "") !== "" ? rubyToI(params.expires ?? "") * 1000 : undefined;
  if (created !== undefined) {
    expires = Math.min(
      expires ?? created + DEFAULT_EXPIRY_MS,
      created + EXPIRATION_WINDOW_LIMIT_MS,
    );
    if (created > now.getTime() + CLOCK_SKEW_MARGIN_MS) return false;
  }
  if (expires !== undefined && now.getTime() > expires + CLOCK_SKEW_MARGIN_MS) return false;
  return true;
}

const HTTP_DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Ruby's `Time.httpdate`, IMF-fixdate form only (what every signer sends). */
function parseHttpDate(value: string): number {
  const time = HTTP_DATE.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new SignatureError(`Invalid Date header: not RFC 2616 compliant date: "${value}"`);
  }
  return time;
}

/** Ruby's `String#to_i`: leading integer, else 0. */
function rubyToI(value: string): number {
  return Number.parseInt(/^\s*[-+]?\d+/.exec(value)?.[0] ?? "0", 10);
}

/** `verify_signature_strength!`. */
function checkStrength(signedHeaders: readonly string[], method: string): void {
  if (!signedHeaders.includes("date") && !signedHeaders.includes("(created)")) {
    throw new SignatureError(
      "Mastodon requires the Date header or (created) pseudo-header to be signed",
    );
  }
  if (!signedHeaders.includes(REQUEST_TARGET) && !signedHeaders.includes("digest")) {
    throw new SignatureError(
      "Mastodon requires the Digest header or (request-target) pseudo-header to be signed",
    );
  }
  if (method === "GET" && !signedHeaders.includes("host")) {
    throw new SignatureError(
      "Mastodon requires the Host header to be signed when doing a GET request",
    );
  }
  if (method === "POST" && !signedHeaders.includes("digest")) {
    throw new SignatureError(
      "Mastodon requires the Digest header to be signed when doing a POST request",
    );
  }
}

/** `verify_body_digest!`, including its quirks (keys are not trimmed, values compared verbatim). */
function checkBodyDigest(
  signedHeaders: readonly string[],
  header: string | undefined,
  body: Uint8Array,
): void {
  if (!signedHeaders.includes("digest")) return;
  if (header === undefined) throw new SignatureError("Digest header missing");
  const digests = header.split(",").map((part) => {
    const at = part.indexOf("=");
    return at < 0
      ? { key: part.toLowerCase(), value: undefined }
      : { key: part.slice(0, at).toLowerCase(), value: part.slice(at + 1) };
  });
  const sha256 = digests.find((digest) => digest.key === "sha-256");
  if (sha256 === undefined) {
    throw new SignatureError(
      `Mastodon only supports SHA-256 in Digest header. Offered algorithms: ${digests.map((d) => d.key).join(", ")}`,
    );
  }
  const computed = createHash("sha256").update(body).digest("base64");
  if (sha256.value === computed) return;
  const given = (sha256.value ?? "").trim();
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(given)) {
    throw new SignatureError(
      `Invalid Digest value. The provided Digest value is not a valid base64 string. Given digest: ${sha256.value}`,
    );
  }
  if (Buffer.from(given, "base64").length !== 32) {
    throw new SignatureError(
      `Invalid Digest value. The provided Digest value is not a SHA-256 digest. Given digest: ${sha256.value}`,
    );
  }
  throw new SignatureError(
    `Invalid Digest value. Computed SHA-256 digest: ${computed}; given: ${sha256.value}`,
  );
}

/**
 * The string that was signed, rebuilt from the request (`build_signed_string`). With
 * `includeQuery: false` the `(request-target)` drops the query string, a form Mastodon still
 * accepts because its own older versions signed that way.
 */
export function signedString(
  request: IncomingRequest,
  checked: CheckedSignature,
  includeQuery: boolean,
): string {
  return checked.signedHeaders
    .map((name) => {
      switch (name) {
        case REQUEST_TARGET: {
          const target = includeQuery ? request.fullPath : request.fullPath.replace(/\?.*$/, "");
          return `${REQUEST_TARGET}: ${request.method.toLowerCase()} ${target}`;
        }
        case "(created)":
        case "(expires)": {
          const param = name.slice(1, -1);
          if (checked.algorithm !== "hs2019") {
            throw new SignatureError(`Invalid pseudo-header ${name} for rsa-sha256`);
          }
          const value = checked.params[param] ?? "";
          if (value === "") {
            throw new SignatureError(
              `Pseudo-header ${name} used but corresponding argument missing`,
            );
          }
          return `${name}: ${value}`;
        }
        default:
          return `${name}: ${request.header(name) ?? ""}`;
      }
    })
    .join("\n");
}

/**
 * Whether `publicKey` made the signature: RSASSA-PKCS1-v1_5 with SHA-256 over the signed string,
 * first with the query string in `(request-target)`, then without (`HttpSignature#verified?`).
 */
export function verifySignature(
  request: IncomingRequest,
  checked: CheckedSignature,
  publicKey: KeyObject,
): boolean {
  const signature = Buffer.from(checked.params.signature ?? "", "base64");
  return [true, false].some((includeQuery) => {
    try {
      return createVerify("sha256")
        .update(signedString(request, checked, includeQuery))
        .verify(publicKey, signature);
    } catch (error) {
      if (error instanceof SignatureError) throw error;
      return false; // a key of another type, or garbage: not verified
    }
  });
}
