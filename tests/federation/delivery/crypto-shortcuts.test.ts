import { createVerify, KeyObject } from "node:crypto";
import { signRequest } from "@fedify/fedify";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  digestInline,
  signInThreadPool,
} from "../../../src/federation/delivery/crypto-shortcuts.ts";
import { generateRsaKeyPair } from "../../../src/federation/keys.ts";

describe("signInThreadPool()", () => {
  it("signs with the account's RSA key in node:crypto, byte for byte as WebCrypto would", async () => {
    const account = await generateRsaKeyPair();
    const data = new TextEncoder().encode("(request-target): post /inbox\nhost: remote.test");
    const before = new Uint8Array(
      await crypto.subtle.sign("RSASSA-PKCS1-v1_5", account.privateKey, data),
    );
    const original = crypto.subtle.sign;
    const remove = signInThreadPool([account.privateKey]);
    onTestFinished(remove);
    expect(crypto.subtle.sign).not.toBe(original);

    const after = new Uint8Array(
      await crypto.subtle.sign({ name: "RSASSA-PKCS1-v1_5" }, account.privateKey, data),
    );
    expect(after).toEqual(before);
    // A view into a larger buffer signs only its own bytes.
    const padded = new Uint8Array(data.length + 8);
    padded.set(data, 4);
    const view = new Uint8Array(
      await crypto.subtle.sign("RSASSA-PKCS1-v1_5", account.privateKey, padded.subarray(4, -4)),
    );
    expect(view).toEqual(before);

    remove();
    expect(crypto.subtle.sign).toBe(original);
  });

  it("leaves every other key to WebCrypto", async () => {
    const account = await generateRsaKeyPair();
    const other = await generateRsaKeyPair();
    const remove = signInThreadPool([account.privateKey]);
    onTestFinished(remove);
    const data = new TextEncoder().encode("other");
    const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", other.privateKey, data);
    expect(await crypto.subtle.verify("RSASSA-PKCS1-v1_5", other.publicKey, signature, data)).toBe(
      true,
    );
    const hmac = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    expect((await crypto.subtle.sign("HMAC", hmac, data)).byteLength).toBe(32);
  });

  it("gives Fedify's draft-cavage request signature a value the public key verifies", async () => {
    const account = await generateRsaKeyPair();
    const remove = signInThreadPool([account.privateKey]);
    onTestFinished(remove);
    const signed = await signRequest(
      new Request("https://remote.test/inbox", { method: "POST", body: '{"type":"Create"}' }),
      account.privateKey,
      new URL("https://news.test/users/news#main-key"),
    );
    const header = signed.headers.get("signature") ?? "";
    const names = /headers="([^"]+)"/.exec(header)?.[1]?.split(" ") ?? [];
    const value = /signature="([^"]+)"/.exec(header)?.[1] ?? "";
    const text = names
      .map((name) =>
        name === "(request-target)"
          ? "(request-target): post /inbox"
          : `${name}: ${signed.headers.get(name) ?? ""}`,
      )
      .join("\n");
    const verifier = createVerify("sha256").update(text);
    expect(verifier.verify(KeyObject.from(account.publicKey), value, "base64")).toBe(true);
  });
});

describe("digestInline()", () => {
  it("gives the same SHA-256 as WebCrypto, for any kind of bytes, and leaves other digests alone", async () => {
    const text = new TextEncoder().encode("https://a.test/users/alice");
    const padded = new Uint8Array(text.length + 6);
    padded.set(text, 3);
    const before = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
    const sha1Before = new Uint8Array(await crypto.subtle.digest("SHA-1", text));
    const original = crypto.subtle.digest;
    const remove = digestInline();
    onTestFinished(remove);
    expect(crypto.subtle.digest).not.toBe(original);
    expect(new Uint8Array(await crypto.subtle.digest("SHA-256", text))).toEqual(before);
    expect(new Uint8Array(await crypto.subtle.digest({ name: "SHA-256" }, text.buffer))).toEqual(
      before,
    );
    expect(new Uint8Array(await crypto.subtle.digest("SHA-256", padded.subarray(3, -3)))).toEqual(
      before,
    );
    expect(new Uint8Array(await crypto.subtle.digest("SHA-1", text))).toEqual(sha1Before);
    const big = new Uint8Array(100_000).fill(7);
    const bigDigest = new Uint8Array(await crypto.subtle.digest("SHA-256", big));
    remove();
    expect(bigDigest).toEqual(new Uint8Array(await crypto.subtle.digest("SHA-256", big)));
    expect(crypto.subtle.digest).toBe(original);
  });
});
