/**
 * Profile changes reach followers: when the actor document differs from the one of the last
 * start (a new display name, bio, avatar, header, fields, aliases, `movedTo`, type), an
 * `Update` of the actor is sent once. Mastodon otherwise refreshes a remote profile only
 * about once a day, and only when someone looks at it.
 */
import { createHash } from "node:crypto";
import type { Context, KvKey, KvStore } from "@fedify/fedify";
import { type Actor, PUBLIC_COLLECTION, Update } from "@fedify/vocab";

/** The fingerprint of the actor document as last announced (or first seen). */
export const PROFILE_FINGERPRINT_KEY: KvKey = ["herald", "account", "profileFingerprint"];

/** What `announceProfileChange()` did. */
export type ProfileAnnouncement = "first" | "unchanged" | "sent";

/** A hash of the public actor document. */
export async function profileFingerprint(actor: Actor): Promise<string> {
  const document = await actor.toJsonLd({ format: "compact" });
  return createHash("sha256").update(JSON.stringify(document)).digest("base64url");
}

/**
 * Sends `Update{actor}` to the followers when the actor document changed since the last
 * call, and remembers it (under `key`: one per account). The very first call only remembers: a new account has nothing to
 * announce. The `Update`'s id derives from the fingerprint, so a re-send after a crash is
 * a duplicate receivers drop.
 */
export async function announceProfileChange(
  ctx: Context<void>,
  kv: KvStore,
  identifier: string,
  actor: Actor,
  key: KvKey = PROFILE_FINGERPRINT_KEY,
): Promise<ProfileAnnouncement> {
  const fingerprint = await profileFingerprint(actor);
  const previous = await kv.get<string>(key);
  if (previous === fingerprint) return "unchanged";
  if (previous != null) {
    const self = ctx.getActorUri(identifier);
    const update = new Update({
      id: new URL(`${self.href}#updates/${fingerprint}`),
      actor: self,
      object: actor,
      to: PUBLIC_COLLECTION,
      cc: ctx.getFollowersUri(identifier),
    });
    await ctx.sendActivity({ identifier }, "followers", update, { preferSharedInbox: true });
  }
  await kv.set(key, fingerprint);
  return previous == null ? "first" : "sent";
}
