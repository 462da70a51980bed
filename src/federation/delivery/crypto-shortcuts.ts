/**
 * Two shortcuts around Node's WebCrypto for what a fan-out does per inbox, both giving the
 * same bytes as the call they replace.
 *
 * RSA signatures. Every delivery carries an HTTP signature (draft-cavage: RSASSA-PKCS1-v1_5 over SHA-256, one
 * per inbox, since it covers the inbox's host and path). Fedify makes it with
 * `crypto.subtle.sign()`, which in Node 24 costs about 0.9 ms of the main thread per RSA-2048
 * signature (measured on the project's machine: 400 signatures in 350–380 ms, serial or all at
 * once), while `node:crypto`'s callback `sign()` runs in libuv's thread pool, in parallel on
 * every core: 400 in 87 ms. A fan-out to 10,000 servers is 10,000 signatures, so this wraps
 * `crypto.subtle.sign` and, for exactly the account's own RSA private keys, signs with
 * `node:crypto` in the pool. PKCS#1 v1.5 signatures are deterministic: the bytes are the same.
 * Every other call goes through untouched.
 *
 * Works around Fedify 2.3.6 (`signRequestDraft()` in @fedify/fedify's dist/http-*.js) and
 * Node's WebCrypto; no upstream issue tracks it yet. Remove once either is as fast as
 * `node:crypto.sign()`, checking the "Fan-out at 1,000 servers" figures in docs/BENCHMARKS.md
 * without it.
 */
import { hash, KeyObject, sign, type webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type Sign = typeof crypto.subtle.sign;
type Digest = typeof crypto.subtle.digest;

/** Installs the wrapper for `privateKeys` (others are ignored); returns a function removing it. */
export function signInThreadPool(privateKeys: readonly CryptoKey[]): () => void {
  const known = new Map<CryptoKey, KeyObject>();
  for (const key of privateKeys) {
    const hash = (key.algorithm as { hash?: { name?: string } }).hash?.name;
    if (key.algorithm.name === "RSASSA-PKCS1-v1_5" && hash === "SHA-256") {
      known.set(key, KeyObject.from(key));
    }
  }
  const subtle = crypto.subtle;
  const original: Sign = subtle.sign;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    const [algorithm, key, data] = args as [unknown, CryptoKey, ArrayBuffer | ArrayBufferView];
    const name = typeof algorithm === "string" ? algorithm : (algorithm as { name?: unknown }).name;
    const keyObject = name === "RSASSA-PKCS1-v1_5" ? known.get(key) : undefined;
    if (keyObject === undefined) return Reflect.apply(original, this, args);
    return signInPool(toBytes(data), keyObject).then(
      (signature) => new Uint8Array(signature).buffer,
    );
  } as Sign;
  subtle.sign = wrapped;
  return () => {
    if (subtle.sign === wrapped) subtle.sign = original;
  };
}

/** RSASSA-PKCS1-v1_5 over SHA-256 of `data` with `key`, in libuv's thread pool. */
export function signInPool(data: Uint8Array, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign("sha256", data, key, (error, signature) => {
      if (error) reject(error);
      else resolve(signature);
    });
  });
}

/**
 * SHA-256 digests. FEP-8fcf's `Collection-Synchronization` header, which Fedify 2.3.6 adds to
 * every delivery to followers, XORs one `crypto.subtle.digest()` per follower on the inbox's
 * server (`digest()` in @fedify/fedify's dist/middleware-*.js, awaited one after the other),
 * each a round trip through the thread pool for 100 bytes of input. A fan-out that goes through
 * `deliver-now.ts` has its headers made from the digests the follower store keeps instead
 * (`collection-sync.ts`); Fedify still digests for a delivery to a few inboxes (sent without a
 * fan-out message), for each retry's body and for each signed request that arrives. This wraps `crypto.subtle.digest` so that SHA-256 of up to
 * 64 KiB (request bodies, URLs) is computed at once with `node:crypto`'s `hash()`, which
 * costs less than the hand-over alone; other digests go through untouched. Remove with the
 * same checks as above.
 */
export function digestInline(): () => void {
  const subtle = crypto.subtle;
  const original: Digest = subtle.digest;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    const [algorithm, data] = args as [unknown, ArrayBuffer | ArrayBufferView];
    const name = typeof algorithm === "string" ? algorithm : (algorithm as { name?: unknown }).name;
    const bytes = name === "SHA-256" && isBytes(data) ? toBytes(data) : undefined;
    if (bytes === undefined || bytes.byteLength > 65_536)
      return Reflect.apply(original, this, args);
    // One call, no Hash object: half the time and garbage of `createHash()` (100,000 digests
    // per fan-out). Its Buffer has an ArrayBuffer of its own, unless Node ever pools it.
    const digest = hash("sha256", bytes, "buffer");
    return Promise.resolve(
      digest.byteOffset === 0 && digest.buffer.byteLength === digest.byteLength
        ? digest.buffer
        : digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength),
    );
  } as Digest;
  subtle.digest = wrapped;
  return () => {
    if (subtle.digest === wrapped) subtle.digest = original;
  };
}

function isBytes(data: unknown): data is ArrayBuffer | ArrayBufferView {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
