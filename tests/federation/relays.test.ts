import { DatabaseSync } from "node:sqlite";
import { type InboxContext, MemoryKvStore } from "@fedify/fedify";
import { createFederation, createInboxContext } from "@fedify/testing";
import { Accept, Application, Follow, PUBLIC_COLLECTION, Reject, Service } from "@fedify/vocab";
import { beforeEach, describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import type { RelayConfig } from "../../src/config.ts";
import type { FollowerStore } from "../../src/federation/followers.ts";
import {
  getRelay,
  listRelays,
  onRelayAccepted,
  onRelayRejected,
  RELAYS_KEY,
  type RelayStoreDeps,
  type RelaySubscription,
  relayRecipients,
  saveRelay,
  styleOf,
  toRelayFollow,
} from "../../src/federation/relays.ts";

const ACTOR = new URL("https://news.test/users/news");
const RELAY = new URL("https://relay.test/actor");
const RELAY_INBOX = new URL("https://relay.test/inbox");
const FOLLOW_ID = new URL("https://news.test/users/news#relay-follows/1");
const SINCE = new Date("2026-03-04T11:00:00.000Z");
const NOW = new Date("2026-03-04T12:00:00.000Z");

function subscription(fields: Partial<RelaySubscription> = {}): RelaySubscription {
  return {
    url: RELAY,
    style: "mastodon",
    state: "pending",
    followId: FOLLOW_ID,
    inbox: RELAY_INBOX,
    actor: RELAY,
    since: SINCE,
    ...fields,
  };
}

const configured = (...urls: URL[]): RelayConfig[] => urls.map((url) => ({ url }));

function inboxContext(): InboxContext<void> {
  return createInboxContext<void>({
    data: undefined,
    federation: createFederation<void>(),
    url: new URL("https://news.test/"),
  } as unknown as Parameters<typeof createInboxContext<void>>[0]);
}

let kv: MemoryKvStore;
let followers: FollowerStore;
let deps: RelayStoreDeps;
beforeEach(() => {
  kv = new MemoryKvStore();
  followers = openSqliteFollowerStore(new DatabaseSync(":memory:"));
  deps = { kv, followers, now: () => NOW };
});

const ourFollow = (object: URL = PUBLIC_COLLECTION) =>
  new Follow({ id: FOLLOW_ID, actor: ACTOR, object });

describe("styleOf()", () => {
  it("tells a Pleroma or Akkoma relay (an Application at …/relay) as LitePub, others as Mastodon", () => {
    expect(styleOf(new Application({ id: new URL("https://pleroma.test/relay") }))).toBe("litepub");
    expect(styleOf(new Application({ id: new URL("https://relay.test/actor") }))).toBe("mastodon");
    expect(styleOf(new Service({ id: new URL("https://relay.test/relay") }))).toBe("mastodon");
  });
});

describe("toRelayFollow()", () => {
  it("follows the Public collection of a Mastodon-style relay", () => {
    const follow = toRelayFollow(ACTOR, subscription());
    expect(follow.id?.href).toBe(FOLLOW_ID.href);
    expect(follow.actorId?.href).toBe(ACTOR.href);
    expect(follow.objectId?.href).toBe(PUBLIC_COLLECTION.href);
  });

  it("follows the actor of a LitePub-style relay, addressed to it", () => {
    const follow = toRelayFollow(ACTOR, subscription({ style: "litepub" }));
    expect(follow.objectId?.href).toBe(RELAY.href);
    expect(follow.toIds.map((id) => id.href)).toEqual([RELAY.href]);
  });
});

describe("onRelayAccepted() and onRelayRejected()", () => {
  it("marks the subscription accepted when its relay accepts our Follow, embedded or by id", async () => {
    await saveRelay(kv, subscription());
    await onRelayAccepted(deps)(
      inboxContext(),
      new Accept({ id: new URL("https://relay.test/a/1"), actor: RELAY, object: ourFollow() }),
    );
    expect(await getRelay(kv, RELAY)).toEqual(subscription({ state: "accepted", since: NOW }));

    await saveRelay(kv, subscription());
    await onRelayAccepted(deps)(
      inboxContext(),
      new Accept({ id: new URL("https://relay.test/a/2"), actor: RELAY, object: FOLLOW_ID }),
    );
    expect((await getRelay(kv, RELAY))?.state).toBe("accepted");
  });

  it("ignores an Accept of our Follow from another actor", async () => {
    await saveRelay(kv, subscription());
    await onRelayAccepted(deps)(
      inboxContext(),
      new Accept({
        id: new URL("https://evil.test/a/1"),
        actor: new URL("https://evil.test/users/mallory"),
        object: FOLLOW_ID,
      }),
    );
    expect((await getRelay(kv, RELAY))?.state).toBe("pending");
  });

  it("takes the relay actor's Accept of a Follow of its own making", async () => {
    await saveRelay(kv, subscription());
    await onRelayAccepted(deps)(
      inboxContext(),
      new Accept({
        id: new URL("https://relay.test/a/3"),
        actor: RELAY,
        object: new URL("https://relay.test/follows/made-up"),
      }),
    );
    expect((await getRelay(kv, RELAY))?.state).toBe("accepted");
  });

  it("learns the actor of a relay given by its inbox from an answer on the relay's server", async () => {
    const { actor: _actor, ...withoutActor } = subscription({ url: RELAY_INBOX });
    await saveRelay(kv, withoutActor);
    const from = (actor: URL) =>
      new Accept({ id: new URL("/a/4", actor), actor, object: FOLLOW_ID });
    await onRelayAccepted(deps)(inboxContext(), from(new URL("https://evil.test/actor")));
    expect((await getRelay(kv, RELAY_INBOX))?.state).toBe("pending");
    await onRelayAccepted(deps)(inboxContext(), from(RELAY));
    expect(await getRelay(kv, RELAY_INBOX)).toEqual({
      ...withoutActor,
      state: "accepted",
      actor: RELAY,
      since: NOW,
    });
  });

  it("marks the subscription rejected on the relay's Reject", async () => {
    await saveRelay(kv, subscription({ state: "accepted" }));
    await onRelayRejected(deps)(
      inboxContext(),
      new Reject({ id: new URL("https://relay.test/r/1"), actor: RELAY, object: ourFollow() }),
    );
    expect(await getRelay(kv, RELAY)).toEqual(subscription({ state: "rejected", since: NOW }));
  });
});

describe("relayRecipients()", () => {
  it("lists the inbox of each accepted relay still configured, once", async () => {
    const other = new URL("https://other.test/actor");
    const pending = new URL("https://pending.test/actor");
    const removed = new URL("https://removed.test/actor");
    const alias = new URL("https://relay.test/alias");
    await saveRelay(kv, subscription({ state: "accepted" }));
    await saveRelay(kv, subscription({ url: alias, state: "accepted" }));
    await saveRelay(
      kv,
      subscription({
        url: other,
        actor: other,
        inbox: new URL("https://other.test/inbox"),
        state: "rejected",
      }),
    );
    await saveRelay(kv, subscription({ url: pending, actor: pending, state: "pending" }));
    await saveRelay(kv, subscription({ url: removed, actor: removed, state: "accepted" }));
    const recipients = await relayRecipients(deps, configured(RELAY, alias, other, pending));
    expect(recipients.map((r) => [r.id?.href, r.inboxId?.href])).toEqual([
      [RELAY.href, RELAY_INBOX.href],
    ]);
    expect(await relayRecipients(deps, [])).toEqual([]);
  });

  it("leaves out a relay that follows the account: it gets the posts as a follower", async () => {
    await saveRelay(kv, subscription({ style: "litepub", state: "accepted" }));
    await followers.add({
      id: RELAY,
      inbox: RELAY_INBOX,
      followId: new URL("https://relay.test/follows/1"),
      createdAt: NOW,
    });
    expect(await relayRecipients(deps, configured(RELAY))).toEqual([]);
  });
});

describe("listRelays()", () => {
  it("skips what is not a subscription under the relays key", async () => {
    await saveRelay(kv, subscription());
    await kv.set([...RELAYS_KEY, "https://broken.test/"], { url: "not a url" });
    await kv.set([...RELAYS_KEY, "https://null.test/"], null);
    expect(await listRelays(kv)).toEqual([subscription()]);
  });
});
