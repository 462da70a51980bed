/**
 * The inbox's body limit, on a real server and raw sockets: a client still sending a body too
 * large must get to read the 413, and must not hold the connection for ever.
 */
import type { Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { LINGER_MS, limitInboxBody } from "../../../src/http/federation/body-limit.ts";

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
async function inbox(): Promise<number> {
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
  return (server.address() as AddressInfo).port;
}

interface Outcome {
  /** The status line's code, or undefined if the connection closed without one. */
  status?: number;
  /** Milliseconds from the first byte sent to the connection's close (with `untilClose`). */
  closedAfterMs?: number;
}

/**
 * POSTs `bytes` bytes declared by Content-Length, 64 KiB at a time every `gapMs`, on a raw
 * socket; resolves at the status line, or with `untilClose` when the server closes.
 */
function post(port: number, bytes: number, gapMs: number, untilClose = false): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    const outcome: Outcome = {};
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("error", () => {}); // a reset once the server closes: the outcome says what came
    socket.on("data", (chunk: string) => {
      answer += chunk;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      if (status === undefined || outcome.status !== undefined) return;
      outcome.status = Number(status);
      if (!untilClose) socket.destroy();
    });
    socket.on("close", () => {
      outcome.closedAfterMs = performance.now() - started;
      resolve(outcome);
    });
    socket.write(`POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Length: ${bytes}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    const write = (): void => {
      if (socket.destroyed || sent >= bytes) return;
      sent += chunk.length;
      socket.write(chunk);
      setTimeout(write, gapMs);
    };
    write();
  });
}

describe("limitInboxBody", () => {
  it("lets a body within the limit through", async () => {
    const port = await inbox();
    const response = await fetch(`http://127.0.0.1:${port}/inbox`, {
      method: "POST",
      body: "x".repeat(1000),
    });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("1000");
  });

  it("answers 413 to a declared 10 MiB body, and the client reads it, however fast it sends", async () => {
    const port = await inbox();
    const statuses: (number | undefined)[] = [];
    // Without the lingering close, a few in a hundred lost the answer to a reset.
    for (let i = 0; i < 200; i++) statuses.push((await post(port, 10 * 1024 * 1024, 0)).status);
    expect(statuses.filter((status) => status !== 413)).toEqual([]);
  });

  it("closes the connection of a client that goes on sending, LINGER_MS after the 413", async () => {
    const port = await inbox();
    // 64 KiB every 20 ms: 1 GiB would take over five minutes.
    const outcome = await post(port, 1024 * 1024 * 1024, 20, true);
    expect(outcome.status).toBe(413);
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(LINGER_MS - 50);
    // Generous: a loaded machine runs timers late.
    expect(outcome.closedAfterMs).toBeLessThan(LINGER_MS + 5000);
  });

  it("answers 413 to a chunked body once it passes the limit", async () => {
    const port = await inbox();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(512).fill(120));
        controller.close();
      },
    });
    const response = await fetch(`http://127.0.0.1:${port}/inbox`, {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
  });
});
