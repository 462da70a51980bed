/**
 * An inbox rate limit per remote server, checked before Fedify reads the body or fetches a
 * key: a flood of POSTs from one place costs a map lookup each, not a signature check.
 *
 * A request is counted against its sender's server (the host of its signature's `keyId`)
 * as seen from its network address, so a forger naming someone else's server in `keyId`
 * only spends its own budget. Each such pair has a bucket of `perMinute` requests that
 * refills continuously; an empty bucket answers 429 with `Retry-After`. Mastodon and other
 * servers retry those later, so nothing is lost. The buckets live in this process (each web
 * process has its own), and full ones are forgotten, so memory stays bounded.
 */
import { getLogger } from "@logtape/logtape";
import type { Request, RequestHandler } from "express";

const logger = getLogger(["herald", "federation", "inbox"]);

/** Generous: a busy server delivers one activity per post to a shared inbox. */
export const DEFAULT_INBOX_RATE_LIMIT = 600;

/** Buckets kept before full ones are swept out. */
const SWEEP_AT = 10_000;

interface Bucket {
  tokens: number;
  updated: number;
}

export function limitInboxRate(
  perMinute: number = DEFAULT_INBOX_RATE_LIMIT,
  now: () => number = Date.now,
): RequestHandler {
  const buckets = new Map<string, Bucket>();
  const perMs = perMinute / 60_000;
  const refill = (bucket: Bucket, at: number) => {
    bucket.tokens = Math.min(perMinute, bucket.tokens + (at - bucket.updated) * perMs);
    bucket.updated = at;
  };
  const sweep = (at: number) => {
    for (const [key, bucket] of buckets) {
      refill(bucket, at);
      if (bucket.tokens >= perMinute) buckets.delete(key);
    }
  };
  return (req, res, next) => {
    if (req.method !== "POST") return next();
    const at = now();
    const key = senderKey(req);
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      if (buckets.size >= SWEEP_AT) sweep(at);
      bucket = { tokens: perMinute, updated: at };
      buckets.set(key, bucket);
    } else {
      refill(bucket, at);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return next();
    }
    const retryAfter = Math.ceil((1 - bucket.tokens) / perMs / 1000);
    logger.warn("Inbox rate limit reached for {sender}; answered 429.", { sender: key });
    res.status(429).set("Retry-After", String(retryAfter)).type("text/plain");
    res.send("Too many requests; try again later.\n");
    req.resume(); // drain what the client still sends, so it reads the answer
  };
}

/** `host of keyId` + `network address`; `-` for an unsigned request's missing keyId. */
function senderKey(req: Request): string {
  const signature = req.headers.signature ?? req.headers["signature-input"];
  const keyId = /keyid="([^"]*)"/i.exec(String(signature ?? ""))?.[1];
  let host = "-";
  if (keyId !== undefined) {
    try {
      host = new URL(keyId).host;
    } catch {
      host = "(invalid keyId)";
    }
  }
  return `${host} from ${req.ip ?? req.socket.remoteAddress ?? "?"}`;
}
