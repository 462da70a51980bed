import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AS_CONTEXT, type JsonObject, SECURITY_CONTEXT } from "./activitypub.ts";
import { fetchKey } from "./verifier.ts";

const ACTOR = "https://peer.test/users/alice";
const pem = (): string =>
  generateKeyPairSync("rsa", { modulusLength: 2048 })
    .publicKey.export({ type: "spki", format: "pem" })
    .toString();

/** Serves fixed documents by URL (fragment dropped, as over HTTP). */
function documents(docs: Record<string, JsonObject>) {
  return async (url: URL): Promise<JsonObject> => {
    const copy = new URL(url);
    copy.hash = "";
    const doc = docs[copy.href];
    if (doc === undefined) throw new Error(`GET ${copy.href} answered HTTP 404.`);
    return doc;
  };
}

function actor(publicKey: unknown): JsonObject {
  return { "@context": [AS_CONTEXT, SECURITY_CONTEXT], id: ACTOR, type: "Person", publicKey };
}

describe("fetchKey()", () => {
  it("picks the actor's publicKey whose id is the keyId, among several", async () => {
    const keys = [
      { id: `${ACTOR}#other`, owner: ACTOR, publicKeyPem: pem() },
      { id: `${ACTOR}#main-key`, owner: ACTOR, publicKeyPem: pem() },
    ];
    const key = await fetchKey(`${ACTOR}#main-key`, documents({ [ACTOR]: actor(keys) }));
    expect(key.owner.href).toBe(ACTOR);
    expect(key.publicKey.export({ type: "spki", format: "pem" })).toBe(keys[1]?.publicKeyPem);
  });

  it("refuses an actor that lists no key with that id", async () => {
    const docs = documents({
      [ACTOR]: actor({ id: `${ACTOR}#k2`, owner: ACTOR, publicKeyPem: pem() }),
    });
    await expect(fetchKey(`${ACTOR}#main-key`, docs)).rejects.toThrow(
      `Actor ${ACTOR} has no publicKey with id ${ACTOR}#main-key`,
    );
  });

  it("accepts a bare Key whose owner names it back, and refuses one whose owner does not", async () => {
    const keyUrl = "https://peer.test/keys/1";
    const key = { "@context": SECURITY_CONTEXT, id: keyUrl, owner: ACTOR, publicKeyPem: pem() };
    const withContext = { ...key, "@context": [AS_CONTEXT, SECURITY_CONTEXT] };
    const claimed = documents({ [keyUrl]: withContext, [ACTOR]: actor({ id: keyUrl }) });
    expect((await fetchKey(keyUrl, claimed)).owner.href).toBe(ACTOR);
    const disowned = documents({ [keyUrl]: withContext, [ACTOR]: actor({ id: `${ACTOR}#x` }) });
    await expect(fetchKey(keyUrl, disowned)).rejects.toThrow(
      `publicKey id for ${ACTOR} does not correspond to ${keyUrl}`,
    );
  });

  it("refuses documents without the ActivityStreams context", async () => {
    const doc = { ...actor({ id: `${ACTOR}#main-key`, owner: ACTOR, publicKeyPem: pem() }) };
    const docs = documents({ [ACTOR]: { ...doc, "@context": SECURITY_CONTEXT } });
    await expect(fetchKey(`${ACTOR}#main-key`, docs)).rejects.toThrow(
      "Unsupported JSON-LD context",
    );
  });
});
