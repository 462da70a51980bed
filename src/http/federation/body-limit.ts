/**
 * Fedify reads an inbox POST's body whole before looking at it; this caps it first.
 */

import { getLogger } from "@logtape/logtape";
import type { Request, RequestHandler, Response } from "express";

const logger = getLogger(["herald", "federation", "inbox"]);

/** 1 MiB: Mastodon caps its own inbox bodies lower; no real activity comes near it. */
export const DEFAULT_INBOX_BODY_LIMIT = 1024 * 1024;

/** How long the rest of a refused body is still read (and dropped) before the connection closes. */
export const LINGER_MS = 2000;

/**
 * Answers 413 to a POST whose body is larger than `maxBytes`: at once when its
 * `Content-Length` says so, or as soon as a chunked body streams past the limit. Mount it
 * in front of Fedify for POSTs to the inbox paths.
 */
export function limitInboxBody(maxBytes: number = DEFAULT_INBOX_BODY_LIMIT): RequestHandler {
  return (req, res, next) => {
    if (req.method !== "POST") return next();
    const declared = req.headers["content-length"];
    if (declared != null && Number(declared) > maxBytes) {
      logger.warn("Refused a {bytes}-byte POST to {path}.", { bytes: declared, path: req.path });
      tooLarge(res, maxBytes, "keep-alive");
      lingerThenClose(req);
      return;
    }
    let received = 0;
    const count = (chunk: Buffer): void => {
      received += chunk.length;
      if (received <= maxBytes) return;
      req.off("data", count);
      logger.warn("Refused a chunked POST to {path}: over {maxBytes} bytes.", {
        path: req.path,
        maxBytes,
      });
      tooLarge(res, maxBytes, "close");
      // Fedify is still reading, and keeps what it reads: cut the stream once the 413 is out
      // (no lingering close here). Fedify then answers 400, which `answerWithFedify()`
      // (mount.ts) does not send on a response that has been answered.
      if (res.writableFinished) req.destroy();
      else res.once("finish", () => req.destroy());
    };
    req.on("data", count);
    // A `data` listener starts the flow; pause so no chunk passes before Fedify listens too.
    // Fedify's reader resumes the stream when it reads.
    req.pause();
    next();
  };
}

function tooLarge(res: Response, maxBytes: number, connection: "close" | "keep-alive"): void {
  if (res.headersSent) return;
  res
    .status(413)
    .set("Connection", connection)
    .type("text/plain")
    .send(`Request body larger than ${maxBytes} bytes.\n`);
}

/**
 * Reads and drops the rest of a refused body, and closes the connection if it has not all
 * come within `LINGER_MS`. Closing at once, while the client is still sending, resets the
 * connection, and the client's side can then drop the 413 before reading it (as nginx,
 * whose "lingering close" this is).
 */
function lingerThenClose(req: Request): void {
  const socket = req.socket;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  req.once("end", () => clearTimeout(timer));
  socket.once("close", () => clearTimeout(timer));
  req.resume();
}
