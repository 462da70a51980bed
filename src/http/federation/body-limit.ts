/**
 * Fedify reads an inbox POST's body whole before looking at it; this caps it first.
 */

import { getLogger } from "@logtape/logtape";
import type { RequestHandler, Response } from "express";

const logger = getLogger(["herald", "federation", "inbox"]);

/** 1 MiB: Mastodon caps its own inbox bodies lower; no real activity comes near it. */
export const DEFAULT_INBOX_BODY_LIMIT = 1024 * 1024;

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
      tooLarge(res, maxBytes);
      // Read and drop what the client still sends, so it gets to read the 413.
      req.resume();
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
      tooLarge(res, maxBytes);
      // Fedify is still reading: cut the stream once the 413 is out. Fedify then answers
      // 400, which must not reach the finished response.
      silence(res);
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

function tooLarge(res: Response, maxBytes: number): void {
  if (res.headersSent) return;
  res
    .status(413)
    .set("Connection", "close")
    .type("text/plain")
    .send(`Request body larger than ${maxBytes} bytes.\n`);
}

/** Makes later writes no-ops, as `@fedify/express` itself does once it has answered. */
function silence(res: Response): void {
  res.status = () => res;
  res.set = () => res;
  res.setHeader = () => res;
  res.removeHeader = () => {};
  res.send = () => res;
  res.json = () => res;
  res.write = () => true;
  res.end = () => res;
}
