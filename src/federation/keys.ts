/**
 * The account's key pairs: RSA-2048 for HTTP Signatures (what Mastodon verifies) and
 * Ed25519 for Object Integrity Proofs (FEP-8b32). Created once, kept forever: remote
 * servers cache the public keys, and a new key pair means every follower is lost.
 */
import type { webcrypto } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  exportJwk,
  generateCryptoKeyPair,
  importJwk,
  type KvKey,
  type KvStore,
} from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";

const logger = getLogger(["herald", "federation", "keys"]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type JsonWebKey = webcrypto.JsonWebKey;

export interface AccountKeys {
  /** RSASSA-PKCS1-v1_5, 2048 bits: HTTP Signatures and Linked Data Signatures. */
  readonly rsa: CryptoKeyPair;
  /** Ed25519: Object Integrity Proofs. */
  readonly ed25519: CryptoKeyPair;
  /** When the keys were first created: the account's `published` date. */
  readonly createdAt: Date;
}

/** Thrown when the KV store remembers keys whose files are gone. */
export class MissingKeysError extends Error {
  override name = "MissingKeysError";
}

const KEY_FILES = { rsa: "rsa.jwk.json", ed25519: "ed25519.jwk.json" } as const;
/** Remembers that keys were made, so a lost `KEYS_DIR` is an error and not a silent new account. */
export const KEYS_CREATED_KEY = ["herald", "federation", "keysCreatedAt"] as const;

interface StoredKeyPair {
  readonly privateKey: JsonWebKey;
  readonly publicKey: JsonWebKey;
}

/**
 * Reads the key pairs from `keysDir`, or creates them there (files with mode 0600) on the
 * very first start (`marker`: the KV key remembering when; one per account). Refuses to create new ones when `kv` says keys existed before: that
 * would silently turn the account into a new one that no follower knows.
 */
export async function loadOrCreateKeys(
  keysDir: string,
  kv: KvStore,
  marker: KvKey = KEYS_CREATED_KEY,
): Promise<AccountKeys> {
  const createdAt = await kv.get<string>(marker);
  const rsa = await readKeyPair(join(keysDir, KEY_FILES.rsa));
  const ed25519 = await readKeyPair(join(keysDir, KEY_FILES.ed25519));
  if (rsa != null && ed25519 != null) {
    const created =
      createdAt == null ? await fileTime(join(keysDir, KEY_FILES.rsa)) : new Date(createdAt);
    if (createdAt == null) await kv.set(marker, created.toISOString());
    return { rsa, ed25519, createdAt: created };
  }
  if (createdAt != null || rsa != null || ed25519 != null) {
    throw new MissingKeysError(
      `The account's key files are missing from ${keysDir} (keys were created on ${createdAt ?? "an earlier start"}). ` +
        `Restore ${KEY_FILES.rsa} and ${KEY_FILES.ed25519} from a backup: new keys would cost every follower.`,
    );
  }
  return await createKeysOnce(keysDir, kv, marker);
}

/**
 * Creates the keys under an exclusive lock file, so that processes starting together on an
 * empty `KEYS_DIR` (web and workers) end up with one key pair, not one each. A lock left by a
 * process that died while creating keys is taken over after a minute.
 */
async function createKeysOnce(keysDir: string, kv: KvStore, marker: KvKey): Promise<AccountKeys> {
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  const lock = join(keysDir, ".creating");
  for (;;) {
    try {
      await (await open(lock, "wx")).close();
      break;
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 60_000) await rm(lock, { force: true });
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    // Another process may have made them while this one waited for the lock.
    const rsa = await readKeyPair(join(keysDir, KEY_FILES.rsa));
    const ed25519 = await readKeyPair(join(keysDir, KEY_FILES.ed25519));
    if (rsa != null && ed25519 != null) {
      const createdAt = await fileTime(join(keysDir, KEY_FILES.rsa));
      return { rsa, ed25519, createdAt };
    }
    return await createKeys(keysDir, kv, marker);
  } finally {
    await rm(lock, { force: true });
  }
}

async function createKeys(keysDir: string, kv: KvStore, marker: KvKey): Promise<AccountKeys> {
  const rsa = await generateRsaKeyPair();
  const ed25519 = await generateCryptoKeyPair("Ed25519");
  await writeKeyPair(join(keysDir, KEY_FILES.rsa), rsa);
  await writeKeyPair(join(keysDir, KEY_FILES.ed25519), ed25519);
  const createdAt = new Date();
  await kv.set(marker, createdAt.toISOString());
  logger.info("Created the account's key pairs in {keysDir}; back this folder up.", { keysDir });
  return { rsa, ed25519, createdAt };
}

/** RSA-2048, as Mastodon's own keys (Fedify's `generateCryptoKeyPair()` makes 4096 bits). */
export async function generateRsaKeyPair(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([0x01, 0x00, 0x01]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
}

/** The RSA key pair that signs HTTP requests, if `keysDir` has it (never creates one). */
export async function readSigningKeys(keysDir: string): Promise<CryptoKeyPair | undefined> {
  return await readKeyPair(join(keysDir, KEY_FILES.rsa));
}

async function readKeyPair(path: string): Promise<CryptoKeyPair | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn("Key file {path} is readable by others (mode {mode}); it should be 0600.", {
      path,
      mode: mode.toString(8),
    });
  }
  const stored: StoredKeyPair = JSON.parse(text);
  return {
    privateKey: await importJwk(stored.privateKey, "private"),
    publicKey: await importJwk(stored.publicKey, "public"),
  };
}

async function writeKeyPair(path: string, pair: CryptoKeyPair): Promise<void> {
  const stored: StoredKeyPair = {
    privateKey: await exportJwk(pair.privateKey),
    publicKey: await exportJwk(pair.publicKey),
  };
  // Written to a temporary name first so a crash never leaves half a key behind.
  const temporary = `${path}.tmp`;
  await writeFile(temporary, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600); // `mode` only applies when the file is new
  await rename(temporary, path);
}

async function fileTime(path: string): Promise<Date> {
  return (await stat(path)).mtime;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
