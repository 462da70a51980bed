/**
 * Fedify's queued deliveries carry the account's private keys as JWK, and it imports them
 * anew for every single delivery: for RSA that costs about as much as the signature itself,
 * and a fan-out to 1,000 followers spent a fifth of its time there (docs/benchmarks-history.md,
 * "Fan-out"). Fedify has no hook for it, so this wraps `crypto.subtle.importKey` and, for
 * exactly the account's own private keys imported the way Fedify asks for them, hands back the
 * `CryptoKey` imported at start. Every other import goes through untouched.
 *
 * Works around Fedify 2.3.6: `FederationImpl#listenOutboxMessage()` and
 * `#listenFanoutMessage()` (in @fedify/fedify's dist/middleware-*.js) call
 * `importJwk(privateKey, "private")` for every queued message; no upstream issue tracks it
 * yet. Remove once Fedify caches imported keys (or no longer re-imports them per message),
 * checking that the "Fan-out at 1,000 servers" figures in docs/BENCHMARKS.md hold without it.
 */
import type { webcrypto } from "node:crypto";
import { exportJwk } from "@fedify/fedify";

type CryptoKey = webcrypto.CryptoKey;
type ImportKey = typeof crypto.subtle.importKey;

/** Installs the wrapper for `privateKeys`; returns a function that removes it again. */
export async function reuseImportedPrivateKeys(
  privateKeys: readonly CryptoKey[],
): Promise<() => void> {
  const known = new Map<string, CryptoKey>();
  for (const key of privateKeys) {
    const { d } = await exportJwk(key);
    if (typeof d === "string") known.set(d, key);
  }
  const subtle = crypto.subtle;
  const original: ImportKey = subtle.importKey;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    const [format, keyData, , extractable, usages] = args as [
      string,
      { d?: unknown },
      unknown,
      boolean,
      string[],
    ];
    const key =
      format === "jwk" && typeof keyData.d === "string" ? known.get(keyData.d) : undefined;
    if (key !== undefined && key.extractable === extractable && sameUsages(key, usages)) {
      return Promise.resolve(key);
    }
    return Reflect.apply(original, this, args);
  } as ImportKey;
  subtle.importKey = wrapped;
  return () => {
    if (subtle.importKey === wrapped) subtle.importKey = original;
  };
}

function sameUsages(key: CryptoKey, usages: readonly string[]): boolean {
  const own: readonly string[] = key.usages;
  return usages.length === own.length && usages.every((usage) => own.includes(usage));
}
