import { exportJwk, generateCryptoKeyPair, importJwk } from "@fedify/fedify";
import { describe, expect, it, onTestFinished } from "vitest";
import { reuseImportedPrivateKeys } from "../../../src/federation/delivery/key-reuse.ts";
import { generateRsaKeyPair } from "../../../src/federation/keys.ts";

describe("reuseImportedPrivateKeys()", () => {
  it("hands back the account's own private keys when Fedify imports them again, and only those", async () => {
    const rsa = await generateRsaKeyPair();
    const ed25519 = await generateCryptoKeyPair("Ed25519");
    const other = await generateCryptoKeyPair("Ed25519");
    const remove = await reuseImportedPrivateKeys([rsa.privateKey, ed25519.privateKey]);
    onTestFinished(remove);

    // What Fedify does for each queued delivery.
    expect(await importJwk(await exportJwk(rsa.privateKey), "private")).toBe(rsa.privateKey);
    expect(await importJwk(await exportJwk(ed25519.privateKey), "private")).toBe(
      ed25519.privateKey,
    );
    // Anything else is imported as before: a new key object that still signs.
    const imported = await importJwk(await exportJwk(other.privateKey), "private");
    expect(imported).not.toBe(other.privateKey);
    const data = new TextEncoder().encode("signed");
    const signature = await crypto.subtle.sign("Ed25519", imported, data);
    expect(await crypto.subtle.verify("Ed25519", other.publicKey, signature, data)).toBe(true);
    // The same key imported with other properties is a new key object, not the cached one.
    const notExtractable = await crypto.subtle.importKey(
      "jwk",
      await exportJwk(ed25519.privateKey),
      "Ed25519",
      false,
      ["sign"],
    );
    expect(notExtractable).not.toBe(ed25519.privateKey);

    remove();
    expect(await importJwk(await exportJwk(rsa.privateKey), "private")).not.toBe(rsa.privateKey);
  });
});
