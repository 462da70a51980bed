/** Plain `node:http` plumbing for the fake remote: loopback-only requests, bodies, answers. */

import http from "node:http";
import type { JsonObject } from "./activitypub.ts";

/** A raw HTTP answer; header names in lower case. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What every outgoing request shares. */
export interface Outgoing {
  readonly agent: http.Agent;
  readonly timeoutMs: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** Any address of 127.0.0.0/8: fake servers may listen on others than 127.0.0.1 (`address`). */
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * One request with exactly the given headers (`Host` included, so what was signed is what is
 * sent). Refuses anything but plain http to loopback; rejects on timeout or a broken connection.
 */
export function send(
  outgoing: Outgoing,
  method: "GET" | "POST",
  url: URL,
  headers: Readonly<Record<string, string>>,
  body?: string,
): Promise<HttpResult> {
  if (url.protocol !== "http:" || !(LOOPBACK.has(url.hostname) || LOOPBACK_V4.test(url.hostname))) {
    return Promise.reject(
      new Error(`The fake remote only talks to http://127.0.0.1 (got ${url.href}).`),
    );
  }
  const { agent, timeoutMs } = outgoing;
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

/** Headers as one string each (repeated ones joined with ", "), lower-case names. */
export function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

export function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
}

/** The whole body, or `undefined` past `limit` bytes (the rest is still drained). */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function answer(
  res: http.ServerResponse,
  status: number,
  json: JsonObject,
  type = "application/json; charset=utf-8",
): void {
  const body = JSON.stringify(json);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
