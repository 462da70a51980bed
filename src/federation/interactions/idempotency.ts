/**
 * Which received activities count as repeats: Fedify keeps a record per activity for a day
 * and drops a second one with the same key. Keyed here per sender, so that one actor cannot
 * make us drop another's activity by sending its id first (a Mastodon `Delete` of a note is
 * predictably `<note id>#delete`).
 */
import type { InboxContext, KvKey, KvStore } from "@fedify/fedify";
import type { Activity } from "@fedify/vocab";

/**
 * The idempotency key of a received activity: its actor and its id. Fedify's built-in
 * strategies key on the receiving side only (its "per-origin" is *our* origin). An id not
 * on its actor's server gets no record at all; the listeners refuse it (`ownership.ts`).
 */
export function idempotencyKey(_ctx: InboxContext<void>, activity: Activity): string | null {
  const { id, actorId } = activity;
  if (id == null || actorId == null || id.origin !== actorId.origin) return null;
  return `${actorId.href}\n${id.href}`;
}

/**
 * Fedify 2.3.6 checks idempotency twice: when the inbox receives an activity (with the
 * strategy of `withIdempotency()`, keyed `[…, key]`), and again when its queue worker
 * handles it (`FederationImpl#listenInboxMessage()`), keyed `[…, our origin, activity id]`
 * whatever the strategy, so the second check alone would let a sender squat another's
 * activity id. This KV store view drops the worker's records (4-part keys), leaving the
 * inbox's. The strategies came with fedify-dev/fedify#441; the queued path was not given
 * them, and no upstream issue tracks that yet. Remove once Fedify's queued inbox path
 * honours `withIdempotency()` (tests/federation/inbox.test.ts shows whether it does).
 */
export function withoutQueuedIdempotence(kv: KvStore): KvStore {
  const isQueued = (key: KvKey) =>
    key.length === 4 && key[0] === "_fedify" && key[1] === "activityIdempotence";
  return {
    get: <T>(key: KvKey) => (isQueued(key) ? Promise.resolve(undefined) : kv.get<T>(key)),
    set: (key, value, options) => (isQueued(key) ? Promise.resolve() : kv.set(key, value, options)),
    delete: (key) => kv.delete(key),
    ...(kv.cas === undefined ? {} : { cas: kv.cas.bind(kv) }),
    list: (prefix) => kv.list(prefix),
  };
}
