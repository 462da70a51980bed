import { DatabaseSync } from "node:sqlite";
import { MemoryKvStore, type RequestContext } from "@fedify/fedify";
import { createFederation, createRequestContext } from "@fedify/testing";
import { Accept, Create, Delete, Endpoints, Follow, Note, Person, Undo } from "@fedify/vocab";
import { beforeEach, describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import { onPermanentFailure } from "../../src/federation/delivery/gone-servers.ts";
import type { FollowerStore } from "../../src/federation/followers.ts";
import {
  type InboxDeps,
  onDeleted,
  onFollowed,
  onUnfollowed,
  onUnverifiedActivity,
} from "../../src/federation/inbox.ts";
import { inboxContext, loaderOf, type Sent } from "../helpers/inbox-context.ts";
import { PUBLISHED } from "./fixtures.ts";

const ACTOR = new URL("https://news.test/users/news");
const ALICE = new URL("https://a.test/users/alice");
const NOW = new Date("2026-03-04T12:00:00.000Z");

function alice(inbox = "https://a.test/users/alice/inbox"): Person {
  return new Person({
    id: ALICE,
    preferredUsername: "alice",
    inbox: new URL(inbox),
    endpoints: new Endpoints({ sharedInbox: new URL("https://a.test/inbox") }),
  });
}

let followers: FollowerStore;
let deps: InboxDeps;
beforeEach(() => {
  followers = openSqliteFollowerStore(new DatabaseSync(":memory:"));
  deps = { followers, identifier: "news", allowPrivateAddress: true, now: () => NOW };
});

const follow = new Follow({ id: new URL("https://a.test/follows/1"), actor: ALICE, object: ACTOR });

async function aliceFollows(): Promise<void> {
  await followers.add({
    id: ALICE,
    inbox: new URL("https://a.test/users/alice/inbox"),
    sharedInbox: new URL("https://a.test/inbox"),
    followId: new URL("https://a.test/follows/1"),
    createdAt: PUBLISHED,
  });
}

describe("onFollowed()", () => {
  it("stores the follower and accepts the follow", async () => {
    const sent: Sent[] = [];
    const json = await alice().toJsonLd({ format: "compact" });
    await onFollowed(deps)(inboxContext({ [ALICE.href]: json }, sent), follow);
    expect(await followers.get(ALICE)).toEqual({
      id: ALICE,
      inbox: new URL("https://a.test/users/alice/inbox"),
      sharedInbox: new URL("https://a.test/inbox"),
      followId: follow.id,
      createdAt: NOW,
    });
    const accept = sent[0]?.activity;
    expect(accept).toBeInstanceOf(Accept);
    expect((accept as Accept).actorId).toEqual(ACTOR);
    expect((await (accept as Accept).getObject())?.id).toEqual(follow.id);
    expect(sent[0]?.recipients).toBeInstanceOf(Person);
    expect((sent[0]?.recipients as Person | undefined)?.id).toEqual(ALICE);
  });

  it("ignores a follow of someone else", async () => {
    const sent: Sent[] = [];
    const other = follow.clone({ object: new URL("https://news.test/users/admin") });
    const json = await alice().toJsonLd({ format: "compact" });
    await onFollowed(deps)(inboxContext({ [ALICE.href]: json }, sent), other);
    expect(await followers.count()).toBe(0);
    expect(sent).toHaveLength(0);
  });

  it("refuses a follower whose inbox is a private address unless allowed", async () => {
    const sent: Sent[] = [];
    const json = await alice("http://127.0.0.1:6379/inbox").toJsonLd({ format: "compact" });
    const strict = { ...deps, allowPrivateAddress: false };
    await onFollowed(strict)(inboxContext({ [ALICE.href]: json }, sent), follow);
    expect(await followers.count()).toBe(0);
    expect(sent).toHaveLength(0);
  });
});

describe("onUnfollowed()", () => {
  it("removes the follower on its Undo(Follow)", async () => {
    await aliceFollows();
    const undo = new Undo({ id: new URL("https://a.test/undo/1"), actor: ALICE, object: follow });
    await onUnfollowed(deps)(inboxContext({}), undo);
    expect(await followers.count()).toBe(0);
  });

  it("ignores an Undo of somebody else's follow, or of something else", async () => {
    await aliceFollows();
    const mallory = new URL("https://m.test/users/mallory");
    const ctx = inboxContext({});
    await onUnfollowed(deps)(
      ctx,
      new Undo({ id: new URL("https://m.test/u"), actor: mallory, object: follow }),
    );
    const like = new Create({ id: new URL("https://a.test/c/1"), actor: ALICE });
    await onUnfollowed(deps)(
      ctx,
      new Undo({ id: new URL("https://a.test/u/2"), actor: ALICE, object: like }),
    );
    expect(await followers.count()).toBe(1);
  });
});

describe("onDeleted()", () => {
  it("removes a follower that deleted itself, and nothing for other deletions", async () => {
    await aliceFollows();
    const ctx = inboxContext({});
    const note = new Note({ id: new URL("https://a.test/notes/1") });
    await onDeleted(deps)(
      ctx,
      new Delete({ id: new URL("https://a.test/d/1"), actor: ALICE, object: note }),
    );
    expect(await followers.count()).toBe(1);
    await onDeleted(deps)(
      ctx,
      new Delete({ id: new URL("https://a.test/d/2"), actor: ALICE, object: ALICE }),
    );
    expect(await followers.count()).toBe(0);
  });
});

describe("section accounts", () => {
  const POLITIK = new URL("https://news.test/users/politik");
  const sectionFollow = follow.clone({ id: new URL("https://a.test/follows/2"), object: POLITIK });

  it("accepts a follow of a section as the section, keeping it apart from the main account's", async () => {
    const politik = openSqliteFollowerStore(new DatabaseSync(":memory:"), "politik");
    const withSection: InboxDeps = { ...deps, sections: new Map([["politik", politik]]) };
    const sent: Sent[] = [];
    const json = await alice().toJsonLd({ format: "compact" });
    await onFollowed(withSection)(inboxContext({ [ALICE.href]: json }, sent), sectionFollow);
    expect((await politik.get(ALICE))?.followId).toEqual(sectionFollow.id);
    expect(await followers.count()).toBe(0);
    expect((sent[0]?.activity as Accept | undefined)?.actorId).toEqual(POLITIK);

    // Undo of the main account's follow leaves the section's; the section's own Undo ends it.
    await aliceFollows();
    const ctx = inboxContext({});
    await onUnfollowed(withSection)(
      ctx,
      new Undo({ id: new URL("https://a.test/undo/1"), actor: ALICE, object: follow }),
    );
    expect([await followers.count(), await politik.count()]).toEqual([0, 1]);
    await onUnfollowed(withSection)(
      ctx,
      new Undo({ id: new URL("https://a.test/undo/2"), actor: ALICE, object: sectionFollow }),
    );
    expect(await politik.count()).toBe(0);
  });

  it("removes an actor that deleted itself from every account's followers", async () => {
    const politik = openSqliteFollowerStore(new DatabaseSync(":memory:"), "politik");
    await aliceFollows();
    const main = await followers.get(ALICE);
    if (main === undefined) throw new Error("alice should follow the main account");
    await politik.add({ ...main, followId: new URL("https://a.test/follows/2") });
    const withSection: InboxDeps = { ...deps, sections: new Map([["politik", politik]]) };
    await onDeleted(withSection)(
      inboxContext({}),
      new Delete({ id: new URL("https://a.test/d/2"), actor: ALICE, object: ALICE }),
    );
    expect([await followers.count(), await politik.count()]).toEqual([0, 0]);
  });
});

describe("onUnverifiedActivity()", () => {
  const deletion = new Delete({ id: new URL("https://a.test/d/3"), actor: ALICE, object: ALICE });
  const gone = {
    type: "keyFetchError" as const,
    keyId: new URL("https://a.test/users/alice#main-key"),
    result: { status: 410, response: new Response(null, { status: 410 }) },
  };
  const requestContext = (documents: Record<string, unknown>): RequestContext<void> => {
    const loader = loaderOf(documents);
    return createRequestContext<void>({
      data: undefined,
      federation: createFederation<void>(),
      url: new URL("https://news.test/inbox"),
      documentLoader: loader,
      contextLoader: loader,
    });
  };

  it("answers 202 to a deleted account's Delete and drops it once its actor is gone", async () => {
    await aliceFollows();
    const response = await onUnverifiedActivity(deps)(
      requestContext({ [ALICE.href]: 410 }),
      deletion,
      gone,
    );
    expect(response?.status).toBe(202);
    expect(await followers.count()).toBe(0);
  });

  it("keeps the follower while its actor document is still there", async () => {
    await aliceFollows();
    const json = await alice().toJsonLd({ format: "compact" });
    const response = await onUnverifiedActivity(deps)(
      requestContext({ [ALICE.href]: json }),
      deletion,
      gone,
    );
    expect(response?.status).toBe(202);
    expect(await followers.count()).toBe(1);
  });

  it("leaves other unverified activities to Fedify's 401", async () => {
    const response = await onUnverifiedActivity(deps)(requestContext({}), follow, {
      type: "noSignature",
    });
    expect(response).toBeUndefined();
  });
});

describe("onPermanentFailure()", () => {
  it("drops a follower whose own inbox answers 410, not one behind a shared inbox", async () => {
    await aliceFollows();
    await followers.add({
      id: new URL("https://c.test/carol"),
      inbox: new URL("https://c.test/carol/inbox"),
      followId: new URL("https://c.test/follows/1"),
      createdAt: PUBLISHED,
    });
    const handler = onPermanentFailure({ followers, kv: new MemoryKvStore(), identifier: "news" });
    const failure = (inbox: string, actorIds: URL[]) =>
      ({
        reason: "http",
        statusCode: 410,
        inbox: new URL(inbox),
        actorIds,
      }) as unknown as Parameters<typeof handler>[1];
    const ctx = createFederation<void>().createContext(new URL("https://news.test/"), undefined);
    await handler(
      ctx as unknown as Parameters<typeof handler>[0],
      failure("https://a.test/inbox", [ALICE]),
    );
    await handler(
      ctx as never,
      failure("https://c.test/carol/inbox", [new URL("https://c.test/carol")]),
    );
    expect((await followers.list()).items.map((f) => f.id)).toEqual([ALICE]);
  });
});
