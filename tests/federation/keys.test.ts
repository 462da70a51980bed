import { mkdtemp, readFile, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJwk, MemoryKvStore } from "@fedify/fedify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadOrCreateKeys, MissingKeysError } from "../../src/federation/keys.ts";

describe("loadOrCreateKeys()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "herald-keys-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates an RSA and an Ed25519 key pair as files with mode 0600", async () => {
    const keysDir = join(dir, "keys");
    const keys = await loadOrCreateKeys(keysDir, new MemoryKvStore());
    expect(keys.rsa.privateKey.algorithm.name).toBe("RSASSA-PKCS1-v1_5");
    expect((keys.rsa.publicKey.algorithm as RsaHashedKeyAlgorithm).modulusLength).toBe(2048);
    expect(keys.ed25519.privateKey.algorithm.name).toBe("Ed25519");
    for (const file of ["rsa.jwk.json", "ed25519.jwk.json"]) {
      expect((await stat(join(keysDir, file))).mode & 0o777).toBe(0o600);
      const stored = JSON.parse(await readFile(join(keysDir, file), "utf8"));
      expect(stored.privateKey.d).toBeTypeOf("string");
    }
  });

  it("makes one key pair for processes starting together on an empty folder", async () => {
    const keysDir = join(dir, "keys");
    // Each "process" has its own KV store, as web and workers on SQLite files of their own would.
    const all = await Promise.all(
      Array.from({ length: 4 }, () => loadOrCreateKeys(keysDir, new MemoryKvStore())),
    );
    const publicKeys = await Promise.all(all.map((keys) => exportJwk(keys.rsa.publicKey)));
    expect(new Set(publicKeys.map((jwk: { n?: string }) => jwk.n)).size).toBe(1);
    const stored = JSON.parse(await readFile(join(keysDir, "rsa.jwk.json"), "utf8"));
    expect(stored.publicKey.n).toBe(publicKeys[0]?.n);
  });

  it("reuses the same keys on the next start", async () => {
    const kv = new MemoryKvStore();
    const first = await loadOrCreateKeys(dir, kv);
    const second = await loadOrCreateKeys(dir, kv);
    expect(await exportJwk(second.rsa.publicKey)).toEqual(await exportJwk(first.rsa.publicKey));
    expect(await exportJwk(second.ed25519.privateKey)).toEqual(
      await exportJwk(first.ed25519.privateKey),
    );
    expect(second.createdAt).toEqual(first.createdAt);
  });

  it("refuses to make new keys when the files vanished after they were created", async () => {
    const kv = new MemoryKvStore();
    await loadOrCreateKeys(dir, kv);
    await unlink(join(dir, "rsa.jwk.json"));
    await unlink(join(dir, "ed25519.jwk.json"));
    const attempt = loadOrCreateKeys(dir, kv);
    await expect(attempt).rejects.toThrow(MissingKeysError);
    await expect(loadOrCreateKeys(dir, kv)).rejects.toThrow(dir);
  });

  it("refuses when only one of the two key files is left", async () => {
    await loadOrCreateKeys(dir, new MemoryKvStore());
    await unlink(join(dir, "ed25519.jwk.json"));
    await expect(loadOrCreateKeys(dir, new MemoryKvStore())).rejects.toThrow(MissingKeysError);
  });
});

interface RsaHashedKeyAlgorithm {
  readonly name: string;
  readonly modulusLength: number;
}
