import { createPrivateKey, createPublicKey } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { MemoryKvStore, type MessageQueue, signRequest } from "@fedify/fedify";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DRAFT_CAVAGE,
  requestBody,
  sendFirstTries,
  signedHeaders,
} from "../../../src/federation/delivery/first-try.ts";
import { createOutgoingDispatcher } from "../../../src/federation/delivery/outgoing.ts";
import { toInstant } from "../../../src/federation/temporal.ts";
import { checkSignature, verifySignature } from "../../helpers/fake-remote/cavage-signature.ts";
import { loadFixtureCryptoKey, loadFixtureKeyPair } from "../../helpers/fake-remote.ts";

const KEY_ID = "https://news.test/users/news#main-key";
const privateKey = createPrivateKey(loadFixtureKeyPair().privateKeyPem);
const publicKey = createPublicKey(loadFixtureKeyPair().publicKeyPem);
const activity = {
  "@context": "https://www.w3.org/ns/activitystreams",
  id: "https://news.test/activities/1",
  type: "Create",
  actor: "https://news.test/users/news",
  object: { type: "Note", content: "Grüße aus Minsk." },
};

interface Received {
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Buffer;
}

/** An inbox server on loopback answering `status`, recording what it got. */
async function inboxServer(status: number) {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks),
      });
      response.writeHead(status, { "content-type": "text/plain" }).end(`answered ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, received };
}

// Every request goes through Herald's dispatcher, as in the service.
const before = getGlobalDispatcher();
beforeAll(() => {
  setGlobalDispatcher(createOutgoingDispatcher({ timeoutMs: 2000, userAgent: "Herald/test" }));
});
afterAll(() => setGlobalDispatcher(before));

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/**
 * A queue that hands `deliver(message)` to the listener; `fedify` counts what reached Fedify's
 * handler, which runs `asFedify` (as Fedify would send the delivery again).
 */
function listening(asFedify?: (message: unknown) => Promise<void>, kv = new MemoryKvStore()) {
  let listener: ((message: unknown) => Promise<void>) | undefined;
  const base = {
    enqueue: async () => {},
    listen: (handler: (message: unknown) => Promise<void>) => {
      listener = handler;
      return new Promise<void>(() => {});
    },
  } as unknown as MessageQueue;
  const fedify: unknown[] = [];
  void sendFirstTries(base, { kv, firstKnock: DRAFT_CAVAGE }).listen(async (message) => {
    fedify.push(message);
    await asFedify?.(message);
  });
  return { kv, fedify, deliver: (message: unknown) => listener?.(message) };
}

function outboxMessage(inbox: string, fields: Record<string, unknown> = {}) {
  return {
    type: "outbox",
    keys: [{ keyId: KEY_ID, privateKey: privateKey.export({ format: "jwk" }) }],
    activity,
    activityId: activity.id,
    inbox,
    attempt: 0,
    headers: {
      "Collection-Synchronization": 'collectionId="https://news.test/users/news/followers"',
    },
    ...fields,
  };
}

describe("signedHeaders()", () => {
  it("signs exactly as Fedify's draft-cavage signRequest() does", async () => {
    const inbox = new URL("https://remote.test/inbox");
    const body = JSON.stringify(activity);
    const extra = { "Collection-Synchronization": 'collectionId="x", digest="y"' };
    const now = new Date("2026-12-06T12:00:00Z");
    const ours = await signedHeaders(
      inbox,
      requestBody(body),
      extra,
      { keyId: KEY_ID, privateKey },
      now,
    );

    const request = new Request(inbox, {
      method: "POST",
      headers: { ...extra, "Content-Type": "application/activity+json" },
      body,
    });
    const fedify = await signRequest(request, await loadFixtureCryptoKey(), new URL(KEY_ID), {
      spec: DRAFT_CAVAGE,
      currentTime: toInstant(now),
    });
    expect(ours).toEqual(Object.fromEntries(fedify.headers));
  });
});

describe("sendFirstTries()", () => {
  it("sends a first try itself, signed so that Mastodon's checks pass, and Fedify never sees it", async () => {
    const remote = await inboxServer(202);
    const queue = listening();
    await queue.deliver(outboxMessage(`${remote.origin}/inbox`));

    expect(queue.fedify).toEqual([]);
    expect(remote.received).toHaveLength(1);
    const [got] = remote.received;
    if (got === undefined) throw new Error("nothing received");
    expect(JSON.parse(got.body.toString())).toEqual(activity);
    const incoming = {
      method: "POST",
      fullPath: got.path,
      header: (name: string) => got.headers[name] as string | undefined,
      body: new Uint8Array(got.body),
    };
    const checked = checkSignature(incoming, new Date());
    expect(checked.signedHeaders).toContain("collection-synchronization");
    expect(checked.signedHeaders).toEqual(
      expect.arrayContaining(["(request-target)", "host", "date", "digest"]),
    );
    expect(verifySignature(incoming, checked, publicKey)).toBe(true);
  });

  it.each([
    ["a retry", { attempt: 1 }],
    ["a message held while the host's circuit is open", { circuitHeld: true }],
    ["a message without an RSA key", { keys: [] }],
  ])("leaves %s to Fedify", async (_, fields) => {
    const remote = await inboxServer(202);
    const queue = listening();
    const message = outboxMessage(`${remote.origin}/inbox`, fields);
    await queue.deliver(message);
    expect(queue.fedify).toEqual([message]);
    expect(remote.received).toEqual([]);
  });

  it("leaves a host with a circuit-breaker record, and an origin that wants RFC 9421, to Fedify", async () => {
    const remote = await inboxServer(202);
    const host = new URL(remote.origin).host;
    const queue = listening();
    await queue.kv.set(["_fedify", "circuit", host], { state: "closed", failures: [] });
    const first = outboxMessage(`${remote.origin}/inbox`);
    await queue.deliver(first);
    await queue.kv.delete(["_fedify", "circuit", host]);
    await queue.kv.set(["_fedify", "httpMessageSignaturesSpec", remote.origin], "rfc9421");
    const second = outboxMessage(`${remote.origin}/inbox`);
    await queue.deliver(second);
    expect(queue.fedify).toEqual([first, second]);
    expect(remote.received).toEqual([]);
  });

  it.each([401, 410, 429, 500])(
    "hands a first try answered %i to Fedify, whose same request gets that answer without a second POST",
    async (status) => {
      const remote = await inboxServer(status);
      const inbox = `${remote.origin}/inbox`;
      const answers: number[] = [];
      const queue = listening(async () => {
        // Fedify's first request to the inbox, then (double-knocking) a second one.
        for (let knock = 0; knock < 2; knock++) {
          const response = await fetch(inbox, { method: "POST", body: "{}" });
          answers.push(response.status);
          expect(await response.text()).toBe(`answered ${status}`);
        }
      });
      const message = outboxMessage(inbox);
      await queue.deliver(message);
      expect(queue.fedify).toEqual([message]);
      expect(answers).toEqual([status, status]);
      // The first try and the second knock went out; Fedify's first request was answered from the first try.
      expect(remote.received).toHaveLength(2);
    },
  );

  it("hands a first try that could not connect to Fedify, whose same request fails alike", async () => {
    const remote = await inboxServer(202);
    for (const server of servers.splice(0)) {
      await new Promise((resolve) => server.close(resolve));
    }
    const inbox = `${remote.origin}/inbox`;
    const failures: unknown[] = [];
    const queue = listening(async () => {
      await fetch(inbox, { method: "POST", body: "{}" }).catch((error: unknown) => {
        failures.push((error as Error).cause);
      });
    });
    const message = outboxMessage(inbox);
    await queue.deliver(message);
    expect(queue.fedify).toEqual([message]);
    expect(failures).toEqual([expect.objectContaining({ code: "ECONNREFUSED" })]);
  });
});
