import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import {
  type BrotliOptions,
  brotliCompress,
  brotliCompressSync,
  constants,
  gzip,
  gzipSync,
  type ZlibOptions,
} from "node:zlib";

/** One content coding of a representation, with its response headers ready to write. */
export interface Variant {
  readonly coding: "identity" | "gzip" | "br";
  readonly body: Buffer;
  /** Strong, quoted. */
  readonly etag: string;
  /** Raw header list for a 200 (without Cache-Control). */
  readonly headers: readonly string[];
  /** Raw header list for a 304 (without Cache-Control). */
  readonly notModifiedHeaders: readonly string[];
}

/**
 * A response body prepared once, when its content changes: hashed, compressed and with its
 * headers precomputed, so serving it costs no hashing and no compression.
 */
export interface Representation {
  readonly contentType: string;
  /** Whole seconds, as HTTP dates carry. */
  readonly lastModified: Date;
  /** The strong ETag of the identity body. */
  readonly etag: string;
  readonly identity: Variant;
  /** Absent when compression does not make the body smaller. */
  readonly gzip?: Variant;
  readonly br?: Variant;
}

export interface RepresentationOptions {
  /**
   * 0–11. Default: 11 (and gzip -9) up to 256 KiB, else 9 (and gzip -6): brotli 11 takes
   * seconds per MB, quality 9 about 40 ms.
   */
  readonly brotliQuality?: number;
}

export interface SendOptions {
  /** E.g. `public, max-age=60`. */
  readonly cacheControl: string;
  /** Default 200. Other statuses (404, 410) are always sent whole: validators are for 200s. */
  readonly status?: number;
}

/**
 * Builds a representation, compressing on the calling thread: fine for small bodies such as
 * the stylesheet. A string body is encoded as UTF-8 and its content type gets `charset=utf-8`
 * unless it names a charset.
 */
export function makeRepresentation(
  body: string | Uint8Array,
  contentType: string,
  lastModified: Date,
  options: RepresentationOptions = {},
): Representation {
  const input = prepare(body, contentType, options);
  return assemble(
    input,
    lastModified,
    gzipSync(input.bytes, input.gzip),
    brotliCompressSync(input.bytes, input.brotli),
  );
}

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** Like `makeRepresentation`, but compresses in the thread pool: use it for feeds and pages. */
export async function makeRepresentationAsync(
  body: string | Uint8Array,
  contentType: string,
  lastModified: Date,
  options: RepresentationOptions = {},
): Promise<Representation> {
  const input = prepare(body, contentType, options);
  const [gzipBody, brBody] = await Promise.all([
    gzipAsync(input.bytes, input.gzip),
    brotliAsync(input.bytes, input.brotli),
  ]);
  return assemble(input, lastModified, gzipBody, brBody);
}

interface Prepared {
  readonly bytes: Buffer;
  readonly type: string;
  readonly gzip: ZlibOptions;
  readonly brotli: BrotliOptions;
}

const maxEffortBytes = 256 * 1024;

function prepare(
  body: string | Uint8Array,
  contentType: string,
  options: RepresentationOptions,
): Prepared {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  const type =
    typeof body === "string" && !/;\s*charset=/i.test(contentType)
      ? `${contentType}; charset=utf-8`
      : contentType;
  const small = bytes.length <= maxEffortBytes;
  return {
    bytes,
    type,
    gzip: { level: small ? 9 : 6 },
    brotli: {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: options.brotliQuality ?? (small ? 11 : 9),
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        [constants.BROTLI_PARAM_MODE]: /^(text\/|application\/[^;]*(json|xml))/i.test(type)
          ? constants.BROTLI_MODE_TEXT
          : constants.BROTLI_MODE_GENERIC,
      },
    },
  };
}

function assemble(
  input: Prepared,
  lastModified: Date,
  gzipBody: Buffer,
  brBody: Buffer,
): Representation {
  const { bytes: identityBody, type } = input;
  const modified = new Date(Math.floor(lastModified.getTime() / 1000) * 1000);
  const hash = createHash("sha256").update(identityBody).digest("base64url").slice(0, 27);
  const compresses = (compressed: Buffer) => compressed.length < identityBody.length;
  const vary = compresses(gzipBody) || compresses(brBody);
  const variant = (coding: Variant["coding"], bytes: Buffer): Variant => {
    // Each coding gets its own strong ETag: a strong validator names exact bytes (RFC 9110
    // §8.8.1), and gzip bytes are not identity bytes.
    const etag = coding === "identity" ? `"${hash}"` : `"${hash}-${coding}"`;
    const common = [
      "ETag",
      etag,
      "Last-Modified",
      modified.toUTCString(),
      ...(vary ? ["Vary", "Accept-Encoding"] : []),
    ];
    return {
      coding,
      body: bytes,
      etag,
      headers: [
        "Content-Type",
        type,
        "Content-Length",
        String(bytes.length),
        ...(coding === "identity" ? [] : ["Content-Encoding", coding]),
        ...common,
      ],
      notModifiedHeaders: common,
    };
  };
  const identity = variant("identity", identityBody);
  return {
    contentType: type,
    lastModified: modified,
    etag: identity.etag,
    identity,
    ...(compresses(gzipBody) ? { gzip: variant("gzip", gzipBody) } : {}),
    ...(compresses(brBody) ? { br: variant("br", brBody) } : {}),
  };
}

/**
 * Answers a GET or HEAD with `rep`: the best coding the client accepts, or 304 Not Modified
 * when its validators match (If-None-Match first; If-Modified-Since only without it, RFC 9110
 * §13.2.2). Works on Express and plain `node:http` requests alike.
 */
export function sendRepresentation(
  req: IncomingMessage,
  res: ServerResponse,
  rep: Representation,
  options: SendOptions,
): void {
  const variant = selectVariant(rep, req.headers["accept-encoding"]);
  const status = options.status ?? 200;
  const notModified = status === 200 && isNotModified(req, rep, variant);
  // Keep a `Vary` set before (e.g. `Accept`, by content negotiation) beside ours.
  const vary = res.getHeader("Vary");
  if (vary !== undefined) res.removeHeader("Vary");
  const headers = (list: readonly string[]) =>
    mergeVary([...list, "Cache-Control", options.cacheControl], vary);
  if (notModified) {
    res.writeHead(304, headers(variant.notModifiedHeaders));
    res.end();
    return;
  }
  res.writeHead(status, headers(variant.headers));
  if (req.method === "HEAD") res.end();
  else res.end(variant.body);
}

/**
 * Whether the client's validators match `variant`: If-None-Match first; If-Modified-Since only
 * without it (RFC 9110 §13.2.2).
 */
export function isNotModified(
  req: IncomingMessage,
  rep: Representation,
  variant: Variant,
): boolean {
  const ifNoneMatch = req.headers["if-none-match"];
  return ifNoneMatch === undefined
    ? isNotModifiedSince(req.headers["if-modified-since"], rep.lastModified)
    : etagMatches(ifNoneMatch, variant.etag);
}

/** `headers` with a `Vary` set before (`earlier`) merged into theirs, or added at the end. */
export function mergeVary(
  headers: string[],
  earlier: number | string | readonly string[] | undefined,
): string[] {
  if (earlier === undefined) return headers;
  const at = headers.indexOf("Vary");
  if (at === -1) return [...headers, "Vary", String(earlier)];
  headers[at + 1] = `${String(earlier)}, ${headers[at + 1]}`;
  return headers;
}

/** br, then gzip, then identity, by the client's q-values (ties go to br). */
export function selectVariant(rep: Representation, acceptEncoding: string | undefined): Variant {
  if (acceptEncoding === undefined || (rep.br === undefined && rep.gzip === undefined)) {
    return rep.identity;
  }
  const q = acceptedCodings(acceptEncoding);
  const br = rep.br === undefined ? 0 : (q.br ?? q.star ?? 0);
  const gzip = rep.gzip === undefined ? 0 : (q.gzip ?? q.star ?? 0);
  if (br > 0 && br >= gzip && rep.br !== undefined) return rep.br;
  if (gzip > 0 && rep.gzip !== undefined) return rep.gzip;
  return rep.identity;
}

interface CodingWeights {
  br?: number;
  gzip?: number;
  star?: number;
}

function acceptedCodings(header: string): CodingWeights {
  const weights: CodingWeights = {};
  for (const part of header.split(",")) {
    const semicolon = part.indexOf(";");
    const name = (semicolon === -1 ? part : part.slice(0, semicolon)).trim().toLowerCase();
    const key =
      name === "br"
        ? "br"
        : name === "gzip" || name === "x-gzip"
          ? "gzip"
          : name === "*"
            ? "star"
            : undefined;
    if (key === undefined) continue;
    weights[key] = semicolon === -1 ? 1 : qValue(part.slice(semicolon + 1));
  }
  return weights;
}

function qValue(params: string): number {
  for (const param of params.split(";")) {
    const [name, value] = param.split("=", 2);
    if (name?.trim().toLowerCase() !== "q") continue;
    const q = Number(value?.trim());
    return Number.isFinite(q) && q >= 0 && q <= 1 ? q : 0;
  }
  return 1;
}

/** Weak comparison (RFC 9110 §8.8.3.2) of each entity tag in an If-None-Match list, or `*`. */
export function etagMatches(header: string, etag: string): boolean {
  if (header === etag) return true; // what a cache sends back: one tag, as it came
  const list = header.trim();
  if (list === "*") return true;
  let at = 0;
  while (at < list.length) {
    const char = list[at];
    if (char === " " || char === "\t" || char === ",") {
      at++;
      continue;
    }
    if (list.startsWith("W/", at)) at += 2;
    if (list[at] !== '"') {
      const comma = list.indexOf(",", at);
      if (comma === -1) return false;
      at = comma + 1;
      continue;
    }
    const end = list.indexOf('"', at + 1);
    if (end === -1) return false;
    if (end + 1 - at === etag.length && list.startsWith(etag, at)) return true;
    at = end + 1;
  }
  return false;
}

function isNotModifiedSince(header: string | undefined, lastModified: Date): boolean {
  if (header === undefined) return false;
  const since = Date.parse(header);
  return !Number.isNaN(since) && lastModified.getTime() <= since;
}
