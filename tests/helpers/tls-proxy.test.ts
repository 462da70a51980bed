import { execFile } from "node:child_process";
import { lookup } from "node:dns/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestCa,
  mapHosts,
  type ProxyKind,
  skipUnlessRoot,
  startReverseProxy,
  TEST_HOSTS,
  type TestCa,
  testAgent,
} from "./tls-proxy.ts";

const run = promisify(execFile);
// update-ca-certificates takes 10 to 30 s here (its Java keystore hook), once in and once out.
const TRUST_TIMEOUT = 120_000;

// Addresses of this file's own, so it can run beside suites that use TEST_HOSTS.
const ADDRESSES: Record<ProxyKind, string> = {
  nginx: "127.0.0.21",
  caddy: "127.0.0.22",
  "nginx-host-rewrite": "127.0.0.23",
};

describe.skipIf(skipUnlessRoot("tests/helpers/tls-proxy.test.ts"))("the TLS proxy harness", () => {
  let ca: TestCa;
  let backend: http.Server;
  let backendPort: number;

  beforeAll(async () => {
    ca = await createTestCa();
    // A backend that answers with the request line and headers it received.
    backend = http.createServer((request, response) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ url: request.url, headers: request.headers }));
    });
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    backendPort = (backend.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => backend?.close(resolve));
    await ca?.remove();
  }, TRUST_TIMEOUT);

  it.each([
    ["nginx", "herald.test"],
    ["caddy", "herald.test"],
    ["nginx-host-rewrite", "127.0.0.1:PORT"],
  ] as const)("%s terminates TLS for herald.test and sends Host: %s", async (kind, host) => {
    const address = ADDRESSES[kind];
    const proxy = await startReverseProxy(kind, {
      name: "herald.test",
      address,
      backendPort,
      certificate: await ca.certificate("herald.test"),
    });
    try {
      const agent = testAgent(ca.certPem, { "herald.test": address });
      const response = await fetch("https://herald.test/path?q=1", { dispatcher: agent });
      const echo = (await response.json()) as { url: string; headers: Record<string, string> };
      expect(echo.url).toBe("/path?q=1");
      expect(echo.headers.host).toBe(host.replace("PORT", String(backendPort)));
      await agent.close();
    } finally {
      await proxy.stop();
    }
  });

  it("maps test names in /etc/hosts, idempotently", async () => {
    mapHosts([TEST_HOSTS.herald, TEST_HOSTS.snac]);
    mapHosts([TEST_HOSTS.herald, TEST_HOSTS.snac]);
    expect((await lookup("herald.test", { family: 4 })).address).toBe("127.0.0.2");
    expect((await lookup("snac.test", { family: 4 })).address).toBe("127.0.0.3");
    expect(() => mapHosts([{ name: "herald.test", address: "127.0.0.9" }])).toThrow(/127\.0\.0\.2/);
  });

  it(
    "adds the CA to the system trust store, for libcurl peers",
    async () => {
      const { certPath } = await ca.certificate("snac.test");
      const verify = () => run("openssl", ["verify", "-CApath", "/etc/ssl/certs", certPath]);
      await expect(verify()).rejects.toThrow();
      await ca.trustSystemWide();
      await expect(verify()).resolves.toMatchObject({ stdout: expect.stringContaining("OK") });
    },
    TRUST_TIMEOUT,
  );
});
