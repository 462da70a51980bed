/**
 * Test host names on loopback addresses of their own, written to `/etc/hosts` (we are root), so
 * that every peer (Herald, curl, snac2) resolves them the same way and each can listen on :443.
 */

import { appendFileSync, readFileSync } from "node:fs";

/** The names the suites share; each suite may add more with its own address. */
export const TEST_HOSTS = {
  /** Herald behind a proxy, as the snac2 interop suite reaches it. */
  herald: { name: "herald.test", address: "127.0.0.2" },
  /** Reserved for snac2. */
  snac: { name: "snac.test", address: "127.0.0.3" },
} as const;

const HOSTS_FILE = "/etc/hosts";

/**
 * Maps each name to its address in `/etc/hosts`, once: a line already there is left alone, so
 * repeated and concurrent runs are harmless. Throws if a name is already mapped elsewhere.
 */
export function mapHosts(entries: readonly { readonly name: string; readonly address: string }[]) {
  const text = readFileSync(HOSTS_FILE, "utf8");
  const current = new Map<string, string>();
  for (const line of text.split("\n")) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    for (const name of names) if (address) current.set(name, address);
  }
  const missing: string[] = [];
  for (const { name, address } of entries) {
    const mapped = current.get(name);
    if (mapped === undefined) missing.push(`${address} ${name}`);
    else if (mapped !== address) {
      throw new Error(`${HOSTS_FILE} maps ${name} to ${mapped}, not ${address}.`);
    }
  }
  if (missing.length === 0) return;
  const newline = text === "" || text.endsWith("\n") ? "" : "\n";
  appendFileSync(HOSTS_FILE, `${newline}${missing.join("\n")}\n`);
}
