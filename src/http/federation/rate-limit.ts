/**
 * An inbox rate limit, checked before Fedify reads the body or fetches a key: a flood of POSTs
 * costs two map lookups each, not a signature check.
 *
 * A POST is counted twice, and passes only while both of its buckets hold a request:
 * - against its client's network address (`req.ip`: the socket's address, or with
 *   `TRUST_PROXY` the client's as the trusted proxy forwarded it), so one machine cannot
 *   escape the limit by naming another server in each signature's `keyId`;
 * - against the server it claims to come from (the host of its signature's `keyId`), so one
 *   server sending from many addresses is held to the limit as well.
 * Nothing is verified yet at this point: a forger naming a real server spends that server's
 * budget too, at most its own address's worth a minute. The server then gets 429s, and
 * Mastodon and other servers retry those later, so nothing is lost.
 *
 * Each bucket holds `perMinute` requests and refills continuously; an empty one answers 429
 * with `Retry-After`. The buckets live in this process (each web process has its own), and
 * full ones are forgotten, so memory stays bounded.
 */
import { getLogger } from "@logtape/logtape";
import type { Request, RequestHandler } from "express";

const logger = getLogger(["herald", "federation", "inbox"]);

/** Generous: a busy server delivers one activity per post to a shared inbox. */
export const DEFAULT_INBOX_RATE_LIMIT = 600;

/** Buckets kept before full ones are swept out. */
const SWEEP_AT = 10_000;

export function limitInboxRate(
  perMinute: number = DEFAULT_INBOX_RATE_LIMIT,
  now: () => number = Date.now,
): RequestHandler {
  const byAddress = new TokenBuckets(perMinute);
  const byServer = new TokenBuckets(perMinute);
  return (req, res, next) => {
    if (req.method !== "POST") return next();
    const at = now();
    const address = req.ip ?? req.socket.remoteAddress ?? "?";
    const server = claimedServer(req);
    const wait = Math.max(byAddress.wait(address, at), byServer.wait(server, at));
    if (wait === 0) {
      byAddress.take(address);
      byServer.take(server);
      return next();
    }
    logger.warn("Inbox rate limit reached for {server} from {address}; answered 429.", {
      server,
      address,
    });
    res
      .status(429)
      .set("Retry-After", String(Math.ceil(wait / 1000)))
      .type("text/plain");
    res.send("Too many requests; try again later.\n");
    req.resume(); // drain what the client still sends, so it reads the answer
  };
}

/** Token buckets by key, `perMinute` each, refilled continuously (also `http/follow.ts`). */
export class TokenBuckets {
  readonly #perMinute: number;
  readonly #perMs: number;
  readonly #buckets = new Map<string, { tokens: number; updated: number }>();

  constructor(perMinute: number) {
    this.#perMinute = perMinute;
    this.#perMs = perMinute / 60_000;
  }

  /** Milliseconds until `key` has a request to spend: 0 when it has one now. */
  wait(key: string, at: number): number {
    const bucket = this.#refilled(key, at);
    return bucket.tokens >= 1 ? 0 : (1 - bucket.tokens) / this.#perMs;
  }

  /** Spends one request of `key` (after `wait()` said it has one). */
  take(key: string): void {
    const bucket = this.#buckets.get(key);
    if (bucket !== undefined) bucket.tokens -= 1;
  }

  #refilled(key: string, at: number) {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= SWEEP_AT) this.#sweep(at);
      bucket = { tokens: this.#perMinute, updated: at };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + (at - bucket.updated) * this.#perMs);
    bucket.updated = at;
    return bucket;
  }

  #sweep(at: number): void {
    for (const [key, bucket] of this.#buckets) {
      const tokens = bucket.tokens + (at - bucket.updated) * this.#perMs;
      if (tokens >= this.#perMinute) this.#buckets.delete(key);
    }
  }
}

/** The host of the signature's `keyId`; `-` for an unsigned request (all share one bucket). */
function claimedServer(req: Request): string {
  const signature = req.headers.signature ?? req.headers["signature-input"];
  const keyId = /keyid="([^"]*)"/i.exec(String(signature ?? ""))?.[1];
  if (keyId === undefined) return "-";
  return URL.parse(keyId)?.host ?? "(invalid keyId)";
}
