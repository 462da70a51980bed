import { describe, expect, it } from "vitest";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

/**
 * POSTs to the shared inbox with a Signature header naming `keyId`; nothing is signed. The
 * key hosts are closed ports on loopback, so a key fetch (if Herald gets that far) fails at
 * once, and the answer is a 4xx (401, or 400 for the empty activity) unless the rate limit
 * answers 429 first.
 */
async function post(origin: URL, keyId: string, headers: Record<string, string> = {}) {
  const response = await fetch(new URL("/inbox", origin), {
    method: "POST",
    headers: {
      "Content-Type": "application/activity+json",
      Signature: `keyId="${keyId}",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA"`,
      Date: new Date().toUTCString(),
      ...headers,
    },
    body: "{}",
  });
  await response.arrayBuffer();
  return response.status;
}

/** `n` POSTs, `concurrency` at a time; the statuses in order. */
async function posts(n: number, send: (i: number) => Promise<number>, concurrency = 16) {
  const statuses: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      statuses[i] = await send(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

const keyOnHost = (i: number) => `http://127.0.0.1:${1 + i}/actor#main-key`;
const limited = (statuses: number[]) => statuses.filter((s) => s === 429).length;

describe("The inbox rate limit", () => {
  it("holds for one address that rotates the keyId host (and ignores X-Forwarded-For without TRUST_PROXY)", async () => {
    // 60 a minute: one per second refills, so a slow run on a busy machine counts the same.
    const herald = await startHerald(heraldFolders(), { env: { INBOX_RATE_LIMIT: "60" } });
    // 700 POSTs over 19 claimed servers (37 each, under the limit), each claiming another
    // client address in X-Forwarded-For, which only a trusted proxy may set.
    const statuses = await posts(700, (i) =>
      post(herald.origin, keyOnHost(i % 19), { "X-Forwarded-For": `192.0.2.${i % 250}` }),
    );
    // 640 over the limit, less what refills while they are sent.
    expect(limited(statuses)).toBeGreaterThanOrEqual(500);
    // The rest are refused as unsigned or unreadable (401, 400); none gets in.
    expect(statuses.filter((s) => s < 400 || s >= 500)).toEqual([]);
    expect((await fetch(new URL("/healthz", herald.origin))).status).toBe(200);
  }, 60_000);

  it("limits each client behind a trusted proxy by its own address (TRUST_PROXY)", async () => {
    const herald = await startHerald(heraldFolders(), {
      env: { TRUST_PROXY: "loopback", INBOX_RATE_LIMIT: "10" },
    });
    // The proxy (on loopback) forwards two clients; the first floods, rotating key hosts.
    const flooder = { "X-Forwarded-For": "192.0.2.7" };
    const first = await posts(20, (i) => post(herald.origin, keyOnHost(i), flooder), 4);
    expect(limited(first)).toBe(10);
    const second = await posts(
      10,
      () => post(herald.origin, keyOnHost(100), { "X-Forwarded-For": "198.51.100.9" }),
      4,
    );
    expect(limited(second)).toBe(0);
    // Still limited: the first client, whatever host it names next.
    expect(await post(herald.origin, keyOnHost(200), flooder)).toBe(429);
  }, 60_000);
});
