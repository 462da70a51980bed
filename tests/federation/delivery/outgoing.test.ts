import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { getGlobalDispatcher, request, setGlobalDispatcher } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  createOutgoingDispatcher,
  heraldUserAgent,
  type OutgoingLimits,
} from "../../../src/federation/delivery/outgoing.ts";

const USER_AGENT = "Herald/1.2.3 (+https://news.test)";

/** A full garbage collection, without starting the test process with `--expose-gc`. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** `fetch` goes through the outgoing dispatcher, as in the service, until the test ends. */
function limitFetch(limits: Partial<OutgoingLimits> = {}): void {
  const before = getGlobalDispatcher();
  setGlobalDispatcher(
    createOutgoingDispatcher({ timeoutMs: 2000, userAgent: USER_AGENT, ...limits }),
  );
  onTestFinished(() => setGlobalDispatcher(before));
}

/** A loopback server answering with `handler`; resolves with its origin. */
async function server(handler: http.RequestListener): Promise<URL> {
  const started = http.createServer(handler);
  await new Promise<void>((resolve) => started.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => {
    started.closeAllConnections();
    return new Promise<void>((resolve) => started.close(() => resolve()));
  });
  return new URL(`http://127.0.0.1:${(started.address() as AddressInfo).port}`);
}

/** Answers `bytes` bytes of JSON-ish text in 64 KiB chunks, with or without Content-Length. */
function answerBytes(bytes: number, contentLength?: number): http.RequestListener {
  return (_req, res) => {
    res.writeHead(200, {
      "content-type": "application/activity+json",
      ...(contentLength === undefined ? {} : { "content-length": contentLength }),
    });
    const chunk = Buffer.alloc(64 * 1024, "x");
    let left = bytes;
    const write = () => {
      while (left > 0) {
        const part = chunk.subarray(0, Math.min(left, chunk.length));
        left -= part.length;
        if (!res.write(part)) return void res.once("drain", write);
      }
      res.end();
    };
    write();
  };
}

describe("heraldUserAgent()", () => {
  it("names Herald, its version and the public origin", () => {
    expect(heraldUserAgent(new URL("https://news.test/"))).toMatch(
      /^Herald\/\d+\.\d+\.\d+ \(\+https:\/\/news\.test\)$/,
    );
  });
});

describe("createOutgoingDispatcher()", () => {
  it("sends Herald's User-Agent instead of any other, and asks for an uncompressed answer", async () => {
    limitFetch();
    const seen: http.IncomingHttpHeaders[] = [];
    const origin = await server((req, res) => {
      seen.push(req.headers);
      res.end("{}");
    });
    await (await fetch(origin, { headers: { "User-Agent": "node" } })).text();
    await (await fetch(origin)).text();
    expect(seen.map((headers) => headers["user-agent"])).toEqual([USER_AGENT, USER_AGENT]);
    expect(seen[0]?.["accept-encoding"]).toBe("identity");
  });

  it("reads an answer up to the cap whole", async () => {
    limitFetch({ maxResponseBytes: 1024 * 1024 });
    const origin = await server(answerBytes(1024 * 1024));
    expect((await (await fetch(origin)).arrayBuffer()).byteLength).toBe(1024 * 1024);
  });

  it("fails an answer past the cap as it arrives, with or without Content-Length", async () => {
    limitFetch({ maxResponseBytes: 1024 * 1024 });
    const chunked = await server(answerBytes(50 * 1024 * 1024));
    await expect((await fetch(chunked)).arrayBuffer()).rejects.toMatchObject({
      cause: { message: expect.stringContaining("more than 1048576 bytes") },
    });
    const declared = await server(answerBytes(2 * 1024 * 1024, 2 * 1024 * 1024));
    await expect(fetch(declared)).rejects.toMatchObject({
      cause: { message: expect.stringContaining("2097152 bytes, over the cap") },
    });
  });

  it("fails an answer that comes compressed anyway", async () => {
    limitFetch();
    const origin = await server((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" }).end();
    });
    await expect(fetch(origin)).rejects.toMatchObject({
      cause: { message: expect.stringContaining("compressed (gzip)") },
    });
  });

  it("ends a request whose answer drips past the deadline, the body included", async () => {
    limitFetch({ timeoutMs: 1000 });
    const origin = await server((_req, res) => {
      res.writeHead(200).write("{");
      const drip = setInterval(() => res.write(" "), 200);
      res.on("close", () => clearInterval(drip));
    });
    const started = Date.now();
    await expect((await fetch(origin)).text()).rejects.toMatchObject({
      cause: { message: expect.stringContaining("took longer than 1 s") },
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("counts the wait for a free connection in the deadline", async () => {
    // Waiting in line, then sending, would take two deadlines (6 s): one deadline for both, with
    // room for a machine under load.
    limitFetch({ timeoutMs: 3000, perHost: 1 });
    let got = 0;
    const origin = await server(() => {
      got += 1; // and never answers
    });
    const started = Date.now();
    const results = await Promise.allSettled([fetch(origin), fetch(origin)]);
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect(Date.now() - started).toBeLessThan(5500);
    expect(got).toBe(1);
  });

  it("sends at most `perHost` requests at once to one origin", async () => {
    limitFetch({ perHost: 2 });
    let open = 0;
    let most = 0;
    const origin = await server((_req, res) => {
      open += 1;
      most = Math.max(most, open);
      setTimeout(() => {
        open -= 1;
        res.end("{}");
      }, 50);
    });
    const other = await server((_req, res) => res.end("{}"));
    const answers = await Promise.all([
      ...Array.from({ length: 6 }, () => fetch(origin).then((r) => r.text())),
      fetch(other).then((r) => r.text()),
    ]);
    expect(answers).toHaveLength(7);
    expect(most).toBe(2);
  });

  it("closes a connection left idle for a quarter second, whatever keep-alive the server offers", async () => {
    limitFetch();
    let closedAt: number | undefined;
    const offering = http.createServer((_req, res) => {
      res.socket?.once("close", () => {
        closedAt = Date.now();
      });
      res.end("{}");
    });
    // A minute (`Keep-Alive: timeout=60`), of which undici would otherwise keep 58 s.
    offering.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => offering.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => {
      offering.closeAllConnections();
      offering.close();
    });
    const { port } = offering.address() as AddressInfo;
    const answered = Date.now();
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((closedAt ?? Infinity) - answered).toBeLessThan(1500);
  });

  it("makes the errors of reading an answer without a stack trace, and every other with one", async () => {
    const garbling = createServer((socket) => {
      socket.once("data", () => socket.end("HTTP/1.1 two hundred\r\n\r\n"));
    });
    await new Promise<void>((resolve) => garbling.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => void garbling.close());
    const { port } = garbling.address() as AddressInfo;
    const dispatcher = createOutgoingDispatcher({ timeoutMs: 2000, userAgent: USER_AGENT });
    const limit = Error.stackTraceLimit;
    const error: unknown = await request(`http://127.0.0.1:${port}/inbox`, {
      method: "POST",
      body: "{}",
      dispatcher,
      reset: true,
    }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toBe("");
    expect((error as Error).stack).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error("elsewhere").stack).toMatch(/\n\s+at /);
  });

  it("keeps nothing of the request that opened a connection while the connection stays open", async () => {
    limitFetch();
    let open = false;
    const origin = await server((req, res) => {
      open = true;
      req.socket.once("close", () => {
        open = false;
      });
      res.end("{}");
    });
    // What a delivery's context holds (`tracking.ts`: the message, its activity, its keys).
    const context = new AsyncLocalStorage<object>();
    const held = await (async () => {
      const message = { activity: "x".repeat(100_000) };
      await context.run(message, async () => {
        expect((await fetch(origin)).status).toBe(200);
      });
      return new WeakRef(message);
    })();
    await new Promise((resolve) => setImmediate(resolve)); // WeakRefs hold until the turn ends
    collectGarbage();
    expect(open).toBe(true); // the connection is still kept for the next request
    expect(held.deref()).toBeUndefined();
  });
});
