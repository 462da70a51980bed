/**
 * The inbox's body limit, on a real server and raw sockets: a client still sending a body too
 * large must get to read the 413, and must not hold the connection for ever.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { LINGER_MS, limitInboxBody } from "../../../src/http/federation/body-limit.ts";
import { postRaw } from "../../helpers/raw-post.ts";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/**
 * An inbox capped at 1 KiB that answers 202 with the length of the body it read. It resumes
 * the paused request to read, as Fedify's reader does.
 */
async function inbox(): Promise<URL> {
  const app = express();
  app.post("/inbox", limitInboxBody(1024), (req, res) => {
    let length = 0;
    req.on("data", (chunk: Buffer) => {
      length += chunk.length;
    });
    req.on("end", () => res.status(202).send(String(length)));
    req.resume();
  });
  server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server?.once("listening", resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/inbox`);
}

describe("limitInboxBody", () => {
  it("lets a body within the limit through", async () => {
    const url = await inbox();
    const response = await fetch(url, {
      method: "POST",
      body: "x".repeat(1000),
    });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("1000");
  });

  it("answers 413 to a declared 10 MiB body, and the client reads it, however fast it sends", async () => {
    const url = await inbox();
    const statuses: (number | undefined)[] = [];
    // Without the lingering close, a few in a hundred lost the answer to a reset.
    for (let i = 0; i < 200; i++) {
      statuses.push((await postRaw(url, 10 * 1024 * 1024, { gapMs: 0 })).status);
    }
    expect(statuses.filter((status) => status !== 413)).toEqual([]);
  });

  it("closes the connection of a client that goes on sending, LINGER_MS after the 413", async () => {
    const url = await inbox();
    // 64 KiB every 20 ms: 1 GiB would take over five minutes.
    const outcome = await postRaw(url, 1024 * 1024 * 1024, { gapMs: 20, untilClose: true });
    expect(outcome.status).toBe(413);
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(LINGER_MS - 50);
    // Generous: a loaded machine runs timers late.
    expect(outcome.closedAfterMs).toBeLessThan(LINGER_MS + 5000);
  });

  it("answers 413 to a chunked body once it passes the limit", async () => {
    const url = await inbox();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(512).fill(120));
        controller.close();
      },
    });
    const response = await fetch(url, {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
  });
});
