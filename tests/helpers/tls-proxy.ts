/**
 * The README's deployment, for tests: Herald on plain HTTP behind a TLS-terminating nginx or
 * Caddy (configured with the README's own blocks), with certificates from a throwaway CA and test
 * host names on loopback addresses of their own. Needs root (for `/etc/hosts`, the system trust
 * store and port 443) and the `openssl`, `nginx` and `caddy` commands (`.ci/run` installs them).
 *
 * ```ts
 * const ca = await createTestCa();                       // ca.remove() in afterAll
 * mapHosts([TEST_HOSTS.herald]);                         // herald.test → 127.0.0.2 in /etc/hosts
 * const herald = await startHerald(folders, {
 *   env: { PUBLIC_URL: "https://herald.test", ...heraldTlsEnv(ca) },
 * });
 * const proxy = await startReverseProxy("nginx", {
 *   ...TEST_HOSTS.herald, backendPort: herald.port,
 *   certificate: await ca.certificate("herald.test"),
 * });                                                    // proxy.stop() in afterAll
 * ```
 */

import type { TestCa } from "./tls-proxy/ca.ts";
import { type ReverseProxy, startReverseProxy } from "./tls-proxy/reverse-proxy.ts";

export { type Certificate, createTestCa, type TestCa } from "./tls-proxy/ca.ts";
export { testAgent } from "./tls-proxy/client.ts";
export { mapHosts, TEST_HOSTS } from "./tls-proxy/hosts.ts";
export {
  caddyConfig,
  nginxConfig,
  type ProxyKind,
  type ProxySite,
  readmeBlock,
  siteBlock,
} from "./tls-proxy/proxy-config.ts";
export { type ReverseProxy, startReverseProxy } from "./tls-proxy/reverse-proxy.ts";

/** nginx (the README's block) in front of each site's backend port, with a certificate of `ca`. */
export async function proxyEach(
  ca: TestCa,
  sites: readonly (readonly [{ readonly name: string; readonly address: string }, number])[],
): Promise<ReverseProxy[]> {
  const proxies: ReverseProxy[] = [];
  for (const [site, backendPort] of sites) {
    const certificate = await ca.certificate(site.name);
    proxies.push(await startReverseProxy("nginx", { ...site, backendPort, certificate }));
  }
  return proxies;
}

/** Environment for a Node child process (Herald) that must trust the test CA. */
export function heraldTlsEnv(ca: TestCa): Record<string, string> {
  return { NODE_EXTRA_CA_CERTS: ca.certPath };
}

/** Why the proxy suites cannot run here, or `undefined` when they can (root is needed). */
export function tlsProxyUnavailable(): string | undefined {
  return process.getuid?.() === 0
    ? undefined
    : "needs root (to edit /etc/hosts and the system trust store, and listen on port 443)";
}

/**
 * Whether to skip a proxy suite: only when not root, with a message saying why. On CI (`CI` set,
 * as `.ci/run` does) they must run, so there it throws instead of skipping.
 */
export function skipUnlessRoot(suite: string): boolean {
  const reason = tlsProxyUnavailable();
  if (reason === undefined) return false;
  if (process.env.CI) throw new Error(`${suite} ${reason}; CI must run it as root.`);
  console.warn(`Skipping ${suite}: it ${reason}.`);
  return true;
}
