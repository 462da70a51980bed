import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  checkSignature,
  digestHeader,
  type IncomingRequest,
  matchesTimeWindow,
  POST_SIGNED_HEADERS,
  parseSignatureParams,
  SignatureError,
  signatureHeader,
  verifySignature,
} from "./cavage-signature.ts";

const NOW = new Date("2025-03-01T12:00:00Z");
const MINUTE = 60_000;
const privateKey = createPrivateKey(
  readFileSync(new URL("../../fixtures/rsa-2048.pem", import.meta.url), "utf8"),
);
const publicKey = createPublicKey(privateKey);

function signedPost(body: string, date: Date, covered = POST_SIGNED_HEADERS): IncomingRequest {
  const url = new URL("https://remote.test/users/news/inbox");
  const headers: Record<string, string> = {
    host: url.host,
    date: date.toUTCString(),
    digest: digestHeader(body),
  };
  headers.signature = signatureHeader({
    method: "POST",
    url,
    headers,
    covered,
    keyId: "https://peer.test/users/alice#main-key",
    privateKey,
  });
  return {
    method: "POST",
    fullPath: url.pathname,
    header: (name) => headers[name],
    body: Buffer.from(body),
  };
}

describe("parseSignatureParams()", () => {
  it("reads quoted and token values, tolerating spaces and the bogus 'Signature ' prefix", () => {
    expect(
      parseSignatureParams(
        'Signature keyId="k#1" , algorithm=hs2019,headers="date",signature="a/b="',
      ),
    ).toEqual({ keyId: "k#1", algorithm: "hs2019", headers: "date", signature: "a/b=" });
  });

  it("refuses a value that is neither a token nor a quoted string", () => {
    expect(() => parseSignatureParams('keyId="k",signature=a/b=')).toThrow(
      "Error parsing signature parameters",
    );
  });
});

describe("matchesTimeWindow()", () => {
  const at = (offsetMs: number) =>
    matchesTimeWindow({}, "rsa-sha256", new Date(NOW.getTime() + offsetMs).toUTCString(), NOW);

  it("accepts a Date up to 65 minutes old (5 min expiry + 1 h skew) and 1 h ahead", () => {
    expect(at(-64 * MINUTE)).toBe(true);
    expect(at(-66 * MINUTE)).toBe(false);
    expect(at(59 * MINUTE)).toBe(true);
    expect(at(61 * MINUTE)).toBe(false);
  });

  it("lets hs2019 `expires` stretch the life to at most 12 hours (+1 h skew)", () => {
    const created = NOW.getTime() / 1000 - 12.5 * 3600;
    const params = { created: String(created), expires: String(created + 24 * 3600) };
    expect(matchesTimeWindow(params, "hs2019", undefined, NOW)).toBe(true);
    const older = { created: String(created - 3600), expires: String(created + 24 * 3600) };
    expect(matchesTimeWindow(older, "hs2019", undefined, NOW)).toBe(false);
  });
});

describe("checkSignature() and verifySignature()", () => {
  it("accepts what signatureHeader() signed", () => {
    const request = signedPost('{"type":"Follow"}', NOW);
    const checked = checkSignature(request, NOW);
    expect(checked.keyId).toBe("https://peer.test/users/alice#main-key");
    expect(checked.signedHeaders).toEqual(["(request-target)", "host", "date", "digest"]);
    expect(verifySignature(request, checked, publicKey)).toBe(true);
  });

  it("refuses a POST whose signature leaves the Digest out, as Mastodon does", () => {
    const request = signedPost("{}", NOW, ["(request-target)", "host", "date"]);
    expect(() => checkSignature(request, NOW)).toThrow(
      "Mastodon requires the Digest header to be signed when doing a POST request",
    );
  });

  it("refuses a body that does not match its Digest", () => {
    const request = { ...signedPost("{}", NOW), body: Buffer.from('{"x":1}') };
    expect(() => checkSignature(request, NOW)).toThrow(/^Invalid Digest value. Computed/);
  });

  it("does not verify with another public key, nor once the request target changed", () => {
    const request = signedPost("{}", NOW);
    const checked = checkSignature(request, NOW);
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    expect(verifySignature(request, checked, other)).toBe(false);
    const moved = { ...request, fullPath: "/users/other/inbox" };
    expect(verifySignature(moved, checkSignature(moved, NOW), publicKey)).toBe(false);
  });

  it("reports a missing Signature as 'Request not signed'", () => {
    const request: IncomingRequest = { ...signedPost("{}", NOW), header: () => undefined };
    expect(() => checkSignature(request, NOW)).toThrow(SignatureError);
    expect(() => checkSignature(request, NOW)).toThrow("Request not signed");
  });
});
