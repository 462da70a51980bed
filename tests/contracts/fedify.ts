import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createExponentialBackoffPolicy,
  createFederation,
  generateCryptoKeyPair,
  type KvStore,
} from "@fedify/fedify";
import { Create, Note } from "@fedify/vocab";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LeasedQueue } from "./leased-queue.ts";
import { waitUntil } from "./queue.ts";

/** One process's view of the shared state: its own connections to the same data. */
export interface FederationBackends {
  readonly kv: KvStore;
  readonly queue: LeasedQueue;
}

/** A fresh, empty store; every `connect()` opens another set of connections to the same data. */
export interface FederationFixture {
  connect(): Promise<FederationBackends>;
  dispose(): Promise<void>;
}

interface Delivery {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly signed: boolean;
  readonly at: number;
}

/**
 * A real Fedify 2.3.6 federation on a KV store and queue of ours: the web process enqueues,
 * a worker process (other connections to the same data) delivers, retries and stops.
 */
export function fedifyContract(name: string, createFixture: () => Promise<FederationFixture>) {
  describe(`Fedify 2.3.6 on ${name}`, () => {
    let fixture: FederationFixture;
    let server: Server;
    let inbox: URL;
    let deliveries: Delivery[];

    beforeEach(async () => {
      fixture = await createFixture();
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
      await fixture.dispose();
    });

    function federationOn({ kv, queue }: FederationBackends) {
      return createFederation<void>({
        kv,
        queue,
        manuallyStartQueue: true,
        outboxRetryPolicy: createExponentialBackoffPolicy({
          initialDelay: { milliseconds: 200 },
          jitter: false,
        }),
      });
    }

    it("enqueues an outgoing activity in one process, delivers it from another, retries a failure, and stops", async () => {
      const web = await fixture.connect();
      const worker = await fixture.connect();
      const ctx = federationOn(web).createContext(new URL("https://news.test"), undefined);
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
      // No queue started anywhere yet: the activity waits in the shared queue.
      expect((await worker.queue.depth()).queued).toBe(1);
      expect(deliveries).toEqual([]);

      const controller = new AbortController();
      const started = federationOn(worker).startQueue(undefined, { signal: controller.signal });
      await waitUntil(() => deliveries.some((d) => d.status === 202), 10_000);
      expect(deliveries.map((d) => d.status)).toEqual([503, 503, 202]);
      // The retry waited out the policy's 200 ms as a delayed message in the shared queue.
      expect((deliveries[2]?.at ?? 0) - (deliveries[1]?.at ?? 0)).toBeGreaterThanOrEqual(200);
      expect(deliveries[2]?.body.id).toBe("https://news.test/activities/1");
      expect(deliveries[2]?.body.type).toBe("Create");
      expect(deliveries.every((d) => d.signed)).toBe(true);
      // The worker kept Fedify's state in the shared KV store, where the web process sees it:
      // the signature spec that worked for this origin.
      const spec = await web.kv.get(["_fedify", "httpMessageSignaturesSpec", inbox.origin]);
      expect(spec).toBeTypeOf("string");
      // The handler acknowledges its message just after the response arrived.
      await waitUntil(async () => (await web.queue.depth()).inFlight === 0);
      expect(await web.queue.depth()).toEqual({ queued: 0, ready: 0, delayed: 0, inFlight: 0 });

      controller.abort();
      await expect(started).resolves.toBeUndefined();
    });
  });
}
