/**
 * Judges an inbox POST as Mastodon does: the signature checks of `cavage-signature.ts`, then the
 * key looked up like `ActivityPub::FetchRemoteKeyService` (cached, refreshed once on failure like
 * `actor_refresh_key!`), then the key's owner compared with the activity's actor
 * (`ProcessCollectionService#different_actor?`). Mastodon would then try a Linked Data Signature
 * and otherwise drop the activity silently with 202; the fake knows no LD signatures and answers
 * 401 with a reason instead, so that tests see it. RFC 9421 signatures are refused with 401 too.
 */

import { createPublicKey, type KeyObject } from "node:crypto";
import {
  asArray,
  hasContext,
  idOf,
  isActor,
  isObject,
  type JsonObject,
  parseJsonObject,
} from "./activitypub.ts";
import {
  checkSignature,
  type IncomingRequest,
  SignatureError,
  verifySignature,
} from "./cavage-signature.ts";

/** An actor's key, as found by dereferencing a keyId. */
export interface KnownKey {
  readonly owner: URL;
  readonly publicKey: KeyObject;
}

export type Verdict =
  | {
      readonly ok: true;
      readonly keyId: string;
      readonly signer: URL;
      readonly activity: JsonObject;
    }
  | {
      readonly ok: false;
      /** 401 for anything about the signature, 400 for a body that is no JSON object. */
      readonly status: number;
      readonly reason: string;
      readonly keyId?: string | undefined;
      readonly signer?: URL;
    };

/** Fetches an ActivityPub document, throwing with a reason unless it is one. */
export type FetchObject = (url: URL) => Promise<JsonObject>;

/** A verifier with its own key cache (one per fake server, like one Mastodon's accounts table). */
export function createVerifier(
  fetchObject: FetchObject,
): (request: IncomingRequest) => Promise<Verdict> {
  const knownKeys = new Map<string, KnownKey>();

  return async (request) => {
    let keyId: string | undefined;
    if (request.header("signature-input") !== undefined) {
      // Mastodon checks RFC 9421 signatures when `Signature-Input` is present (`SignedRequest`);
      // this fake does not, like Mastodon before 4.4. A 401 makes Fedify knock again with cavage.
      const reason = "RFC 9421 HTTP Message Signatures are not supported here (draft-cavage only)";
      return { ok: false, status: 401, reason };
    }
    try {
      const checked = checkSignature(request, new Date());
      keyId = checked.keyId;
      const cached = knownKeys.get(keyId);
      let key = cached ?? (await fetchKey(keyId, fetchObject));
      let good = verifySignature(request, checked, key.publicKey);
      if (!good && cached !== undefined) {
        key = await fetchKey(keyId, fetchObject);
        good = verifySignature(request, checked, key.publicKey);
      }
      knownKeys.set(keyId, key);
      if (!good) {
        return {
          ok: false,
          status: 401,
          keyId,
          reason: `Verification failed for ${key.owner.href} using rsa-sha256 (RSASSA-PKCS1-v1_5 with SHA-256)`,
        };
      }
      const activity = parseJsonObject(Buffer.from(request.body).toString("utf8"));
      if (activity === undefined) {
        const reason = "Body is not a JSON object";
        return { ok: false, status: 400, keyId, signer: key.owner, reason };
      }
      const actor = idOf(activity.actor);
      if (actor !== undefined && actor !== key.owner.href) {
        return {
          ok: false,
          status: 401,
          keyId,
          signer: key.owner,
          reason: `Key ${keyId} belongs to ${key.owner.href}, not to the activity's actor ${actor}`,
        };
      }
      return { ok: true, keyId, signer: key.owner, activity };
    } catch (error) {
      const reason =
        error instanceof SignatureError
          ? error.message
          : `Failed to fetch remote data: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, status: 401, reason, keyId };
    }
  };
}

/**
 * `FetchRemoteKeyService#call(keyId, id: false)`: dereference the keyId; an actor document must
 * list a `publicKey` with that id; a bare Key must name an owner whose `publicKey` names it back.
 * Stricter than Mastodon on one point: the key is picked by id, not just the actor's first one.
 */
export async function fetchKey(keyId: string, fetchObject: FetchObject): Promise<KnownKey> {
  let url: URL;
  try {
    url = new URL(keyId);
  } catch {
    throw new SignatureError(`Public key not found for key ${keyId}`);
  }
  let json = await fetchObject(url);
  if (typeof json.id !== "string") throw new SignatureError(`Unable to fetch key JSON at ${keyId}`);
  if (json.id !== withoutHash(url) && json.id !== keyId) {
    // `fetch_resource(uri, false)` trusts the id it got and dereferences that instead.
    const id = json.id;
    json = await fetchObject(new URL(id));
    if (json.id !== id) {
      throw new SignatureError(`Fetched URI ${id} has wrong id ${String(json.id)}`);
    }
  }
  if (!hasContext(json)) {
    throw new SignatureError(`Unsupported JSON-LD context for document ${keyId}`);
  }
  if (isActor(json)) return keyOfActor(json, keyId);
  if (typeof json.publicKeyPem !== "string" || json.owner === undefined) {
    throw new SignatureError(`Unexpected object type for key ${keyId}`);
  }
  const ownerId = idOf(json.owner) ?? "";
  const owner = await fetchObject(new URL(ownerId));
  if (owner.id !== ownerId || !hasContext(owner) || !isActor(owner)) {
    throw new SignatureError(`Unable to fetch actor JSON ${ownerId}`);
  }
  const keyDocumentId = json.id;
  if (!asArray(owner.publicKey).some((key) => idOf(key) === keyDocumentId)) {
    throw new SignatureError(`publicKey id for ${ownerId} does not correspond to ${keyDocumentId}`);
  }
  return { owner: new URL(ownerId), publicKey: publicKeyOf(json.publicKeyPem, keyId) };
}

function keyOfActor(actor: JsonObject, keyId: string): KnownKey {
  const key = asArray(actor.publicKey).find((entry) => idOf(entry) === keyId);
  if (!isObject(key) || typeof key.publicKeyPem !== "string") {
    throw new SignatureError(`Actor ${String(actor.id)} has no publicKey with id ${keyId}`);
  }
  if (key.owner !== undefined && idOf(key.owner) !== actor.id) {
    throw new SignatureError(
      `Key ${keyId} is owned by ${String(idOf(key.owner))}, not ${String(actor.id)}`,
    );
  }
  return { owner: new URL(String(actor.id)), publicKey: publicKeyOf(key.publicKeyPem, keyId) };
}

function publicKeyOf(pem: string, keyId: string): KeyObject {
  try {
    return createPublicKey(pem);
  } catch {
    throw new SignatureError(`Key ${keyId} holds no usable public key`);
  }
}

function withoutHash(url: URL): string {
  const copy = new URL(url);
  copy.hash = "";
  return copy.href;
}
