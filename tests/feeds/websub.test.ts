import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { pingHub } from "../../src/feeds/websub.ts";

interface Received {
  readonly method: string;
  readonly contentType: string | undefined;
  readonly form: URLSearchParams;
}

/** A fake hub on loopback answering with the given statuses in turn (the last one repeats). */
async function fakeHub(statuses: readonly number[]) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        contentType: req.headers["content-type"],
        form: new URLSearchParams(Buffer.concat(chunks).toString("utf8")),
      });
      res.statusCode = statuses[Math.min(received.length, statuses.length) - 1] ?? 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hub`);
  servers.push(server);
  return { url, received };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const topics = [new URL("https://news.test/feed.xml"), new URL("https://news.test/atom.xml")];

describe("pingHub()", () => {
  it("POSTs hub.mode=publish with hub.url, form-encoded, once per topic", async () => {
    const hub = await fakeHub([204]);
    const results = await pingHub(hub.url, topics, { backoffMs: 5 });
    expect(results.map((r) => [r.topic.href, r.ok, r.attempts])).toEqual([
      ["https://news.test/feed.xml", true, 1],
      ["https://news.test/atom.xml", true, 1],
    ]);
    expect(hub.received).toHaveLength(2);
    for (const request of hub.received) {
      expect(request.method).toBe("POST");
      expect(request.contentType).toBe("application/x-www-form-urlencoded");
      expect(request.form.get("hub.mode")).toBe("publish");
    }
    expect(hub.received.map((r) => r.form.getAll("hub.url")).sort()).toEqual([
      ["https://news.test/atom.xml"],
      ["https://news.test/feed.xml"],
    ]);
  });

  it("retries a hub that fails first and then succeeds", async () => {
    const hub = await fakeHub([503, 500, 202]);
    const results = await pingHub(hub.url, [topics[0] as URL], { backoffMs: 5 });
    expect(results).toEqual([{ topic: topics[0], ok: true, attempts: 3, status: 202 }]);
    expect(hub.received).toHaveLength(3);
  });

  it("gives up after the last try without rejecting", async () => {
    const hub = await fakeHub([500]);
    const results = await pingHub(hub.url, [topics[0] as URL], { attempts: 3, backoffMs: 5 });
    expect(results).toEqual([{ topic: topics[0], ok: false, attempts: 3, status: 500 }]);
    expect(hub.received).toHaveLength(3);
  });

  it("does not retry a request the hub refuses", async () => {
    const hub = await fakeHub([400]);
    const results = await pingHub(hub.url, [topics[0] as URL], { backoffMs: 5 });
    expect(results).toEqual([{ topic: topics[0], ok: false, attempts: 1, status: 400 }]);
  });

  it("resolves when the hub cannot be reached at all", async () => {
    const hub = await fakeHub([204]);
    const closed = servers.pop() as Server;
    await new Promise((resolve) => closed.close(resolve));
    const results = await pingHub(hub.url, [topics[0] as URL], { attempts: 2, backoffMs: 5 });
    expect(results).toEqual([{ topic: topics[0], ok: false, attempts: 2 }]);
  });

  it("stops retrying when its signal aborts", async () => {
    const hub = await fakeHub([503]);
    const controller = new AbortController();
    const pending = pingHub(hub.url, [topics[0] as URL], {
      backoffMs: 60_000,
      signal: controller.signal,
    });
    while (hub.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const results = await pending;
    expect(results[0]?.ok).toBe(false);
    expect(hub.received).toHaveLength(1);
  });
});
