import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  createExponentialBackoffPolicy,
  createFederation,
  generateCryptoKeyPair,
} from "@fedify/fedify";
import { Create, Note } from "@fedify/vocab";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteKvStore } from "../../src/federation/sqlite-kv.ts";
import { SqliteMessageQueue } from "../../src/federation/sqlite-queue.ts";
import { waitUntil } from "./queue-contract.ts";

interface Delivery {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly signed: boolean;
  readonly at: number;
}

describe("Fedify 2.3.6 on SqliteKvStore and SqliteMessageQueue", () => {
  let dir: string;
  let db: DatabaseSync;
  let server: Server;
  let inbox: URL;
  let deliveries: Delivery[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "herald-fedify-"));
    db = new DatabaseSync(join(dir, "herald.sqlite"));
    deliveries = [];
    // A remote inbox that fails the first attempt. Fedify knocks twice per attempt (RFC 9421,
    // then draft-cavage) on a 4xx/5xx; both fail, so its retry must go through our queue.
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += String(chunk);
      });
      request.on("end", () => {
        const status = deliveries.length < 2 ? 503 : 202;
        deliveries.push({
          status,
          body: JSON.parse(body),
          signed: request.headers.signature != null || request.headers["signature-input"] != null,
          at: Date.now(),
        });
        response.writeHead(status).end();
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    inbox = new URL(`http://127.0.0.1:${port}/users/alice/inbox`);
  });

  afterEach(async () => {
    server.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("enqueues an outgoing activity, delivers it from the queue, retries a failure, and stops", async () => {
    const kv = new SqliteKvStore(db);
    const queue = new SqliteMessageQueue(db, { pollInterval: { milliseconds: 50 } });
    const federation = createFederation<void>({
      kv,
      queue,
      manuallyStartQueue: true,
      outboxRetryPolicy: createExponentialBackoffPolicy({
        initialDelay: { milliseconds: 200 },
        jitter: false,
      }),
    });
    const ctx = federation.createContext(new URL("https://news.test"), undefined);
    const { privateKey } = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
    const activity = new Create({
      id: new URL("https://news.test/activities/1"),
      actor: new URL("https://news.test/users/news"),
      object: new Note({
        id: new URL("https://news.test/articles/1"),
        content: "Hello from Herald.",
      }),
    });

    await ctx.sendActivity(
      { keyId: new URL("https://news.test/users/news#main-key"), privateKey },
      { id: new URL("https://remote.test/users/alice"), inboxId: inbox },
      activity,
    );
    // Not started yet: the activity waits in SQLite.
    expect(queue.depth().queued).toBe(1);
    expect(deliveries).toEqual([]);

    const controller = new AbortController();
    const started = federation.startQueue(undefined, { signal: controller.signal });
    await waitUntil(() => deliveries.some((d) => d.status === 202), 10_000);
    expect(deliveries.map((d) => d.status)).toEqual([503, 503, 202]);
    // The retry waited out the policy's 200 ms as a delayed message in SQLite.
    expect((deliveries[2]?.at ?? 0) - (deliveries[1]?.at ?? 0)).toBeGreaterThanOrEqual(200);
    expect(deliveries[2]?.body.id).toBe("https://news.test/activities/1");
    expect(deliveries[2]?.body.type).toBe("Create");
    expect(deliveries.every((d) => d.signed)).toBe(true);
    // Fedify kept its state in our KV store: the signature spec that worked for this origin.
    const spec = await kv.get(["_fedify", "httpMessageSignaturesSpec", inbox.origin]);
    expect(spec).toBeTypeOf("string");
    // The handler acknowledges its message just after the response arrived.
    await waitUntil(() => queue.depth().inFlight === 0);
    expect(queue.depth()).toEqual({ queued: 0, ready: 0, delayed: 0, inFlight: 0 });

    console.log("KVDUMP", JSON.stringify(db.prepare("select * from herald_kv").all()));
    controller.abort();
    await expect(started).resolves.toBeUndefined();
  });
});
