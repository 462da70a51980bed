/** An HTTPS client for the tests: trusts the test CA and reaches test names on given addresses. */

import type { LookupAddress, LookupOptions } from "node:dns";
import { Agent } from "undici";

/**
 * An undici dispatcher (`fetch(url, { dispatcher })` with undici's `fetch`) that trusts `caPem`
 * and connects each host name in `addresses` to its loopback address, as `/etc/hosts` would, but
 * per test: suites running at once can each put `herald.test` behind their own proxy. The TLS
 * server name and `Host` stay the URL's, exactly as for a client that resolved the name.
 */
export function testAgent(caPem: string, addresses: Readonly<Record<string, string>>): Agent {
  return new Agent({
    connect: {
      ca: caPem,
      lookup(
        hostname: string,
        options: LookupOptions,
        callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
      ) {
        const address = addresses[hostname];
        if (address === undefined) {
          callback(new Error(`No test address for ${hostname}.`), "");
        } else if (options.all) {
          callback(null, [{ address, family: 4 }]);
        } else {
          callback(null, address, 4);
        }
      },
    },
  });
}
