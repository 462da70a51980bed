import { DatabaseSync } from "node:sqlite";
import {
  type Federation,
  MemoryKvStore,
  type MessageQueue,
  type MessageQueueEnqueueOptions,
} from "@fedify/fedify";
import { createFederation as createMockFederation } from "@fedify/testing";
import { Article as ArticleObject, Create, Delete, Note, Tombstone, Update } from "@fedify/vocab";
import { beforeAll, describe, expect, it } from "vitest";
import type { ChangeEvent } from "../../../src/article.ts";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";
import {
  createFederationPublisher,
  type PublisherOptions,
} from "../../../src/federation/delivery/publisher.ts";
import {
  buildFederation,
  type FederationOptions,
  registerFederation,
} from "../../../src/federation/federation.ts";
import { type AccountKeys, loadOrCreateKeys } from "../../../src/federation/keys.ts";
import { toDate } from "../../../src/federation/temporal.ts";
import { makeArticle } from "../../helpers/article-fixture.ts";
import {
  accountKeys,
  created,
  deleted,
  EDITED,
  memoryArticleStore,
  ORIGIN,
  PUBLISHED,
  updated,
} from "../fixtures.ts";

const OBJECT_ID = "https://news.test/objects/0b7e8f2c-4d6a-4c1e-9a53-2f1d8c7b6a01";
const HOUR = 60 * 60 * 1000;
const later = (date: Date, ms: number) => new Date(date.getTime() + ms);

let keys: AccountKeys;
beforeAll(async () => {
  keys = await accountKeys();
});

function setUp(options: Partial<PublisherOptions> = {}) {
  const federation = createMockFederation<void>({ contextData: undefined, origin: ORIGIN.href });
  const kv = new MemoryKvStore();
  const deps = {
    store: memoryArticleStore([]),
    kv,
    queue: new RecordingQueue(),
    keys,
    followers: openSqliteFollowerStore(new DatabaseSync(":memory:")),
  };
  const federationOptions: FederationOptions = { origin: ORIGIN, username: "news" };
  registerFederation(federation as unknown as Federation<void>, federationOptions, deps);
  const publisherOptions: PublisherOptions = {
    origin: ORIGIN,
    username: "news",
    postType: "article",
    ...options,
  };
  // The store's first scan: an hour before PUBLISHED unless a test says otherwise.
  const scans: { first: Date | undefined } = { first: later(PUBLISHED, -HOUR) };
  const publisher = (opts = publisherOptions) =>
    createFederationPublisher(
      federation as unknown as Federation<void>,
      { firstScan: async () => scans.first },
      opts,
    );
  return { federation, publish: publisher(), publisher, publisherOptions, scans };
}

/** A live publisher: the first scan (the import, an hour before PUBLISHED) is behind it. */
async function live(options: Partial<PublisherOptions> = {}) {
  const setup = setUp(options);
  const imported = makeArticle({ id: "imported", slug: "imported" });
  await setup.publish([created(imported, 1, later(PUBLISHED, -HOUR))]);
  expect(setup.federation.sentActivities).toHaveLength(0);
  return setup;
}

describe("createFederationPublisher()", () => {
  it("sends a Create of the article to followers", async () => {
    const { federation, publish } = await live();
    await publish([created(makeArticle(), 2)]);
    const [sent] = federation.sentActivities;
    expect(sent?.activity).toBeInstanceOf(Create);
    expect(sent?.activity.id?.href).toBe(`${OBJECT_ID}#create`);
    expect(sent?.activity.actorId?.href).toBe("https://news.test/users/news");
    const object = await sent?.activity.getObject();
    expect(object).toBeInstanceOf(ArticleObject);
    expect(object?.id?.href).toBe(OBJECT_ID);
  });

  it("sends each activity to the accepted relays too, after the followers", async () => {
    const { federation, publisherOptions, scans } = await live();
    const relay = {
      id: new URL("https://relay.test/actor"),
      inboxId: new URL("https://relay.test/inbox"),
    };
    const publish = createFederationPublisher(
      federation as unknown as Federation<void>,
      { firstScan: async () => scans.first, relays: async () => [relay] },
      publisherOptions,
    );
    await publish([created(makeArticle(), 2)]);
    const [toFollowers, toRelays] = federation.sentActivities.map((sent) => sent.activity);
    expect(toFollowers).toBeInstanceOf(Create);
    expect(toRelays?.id?.href).toBe(toFollowers?.id?.href);
    expect(federation.sentActivities).toHaveLength(2);
  });

  it("sends a Note in note mode", async () => {
    const { federation, publish } = await live({ postType: "note" });
    await publish([created(makeArticle(), 2)]);
    expect(await federation.sentActivities[0]?.activity.getObject()).toBeInstanceOf(Note);
  });

  it("sends Updates whose `updated` is newer each time", async () => {
    const { federation, publish } = await live();
    const edited = makeArticle({ updated: EDITED });
    await publish([updated(edited, 3, EDITED)]);
    await publish([updated(edited, 4, later(EDITED, HOUR))]);
    const [first, second] = federation.sentActivities.map((sent) => sent.activity);
    expect(first).toBeInstanceOf(Update);
    expect(second?.id?.href).toBe(`${OBJECT_ID}#update-4`);
    const times = await Promise.all(
      [first, second].map(async (update) => {
        const object = await update?.getObject();
        return object?.updated == null ? 0 : toDate(object.updated).getTime();
      }),
    );
    expect(times[0]).toBeGreaterThan(PUBLISHED.getTime());
    expect(times[1]).toBeGreaterThan(times[0] ?? Number.POSITIVE_INFINITY);
  });

  it("sends a Delete with a Tombstone", async () => {
    const { federation, publish } = await live();
    await publish([deleted(makeArticle(), 5, EDITED)]);
    const activity = federation.sentActivities[0]?.activity;
    expect(activity).toBeInstanceOf(Delete);
    const tombstone = await activity?.getObject();
    expect(tombstone).toBeInstanceOf(Tombstone);
    expect(tombstone?.id?.href).toBe(OBJECT_ID);
  });

  it("sends events in order, with the same ids when the same events come again", async () => {
    const { federation, publish } = await live();
    const article = makeArticle({ updated: EDITED });
    const events: ChangeEvent[] = [
      created(article, 2, PUBLISHED),
      updated(article, 3, EDITED),
      deleted(article, 4, later(EDITED, HOUR)),
    ];
    await publish(events);
    await publish(events);
    const ids = federation.sentActivities.map((sent) => sent.activity.id?.href);
    expect(ids.slice(0, 3)).toEqual([
      `${OBJECT_ID}#create`,
      `${OBJECT_ID}#update-3`,
      `${OBJECT_ID}#delete-4`,
    ]);
    expect(ids.slice(3)).toEqual(ids.slice(0, 3));
  });

  it("does not push the first scan's articles, however many batches bring them", async () => {
    const { federation, publish, publisher, scans } = setUp();
    const scanAt = PUBLISHED;
    scans.first = scanAt;
    const firstBatch = [
      created(makeArticle(), 1, scanAt),
      created(makeArticle({ id: "b", slug: "b" }), 2, scanAt),
    ];
    await publish(firstBatch);
    // The process died before the cursor moved: a new publisher gets the same batch.
    await publisher()(firstBatch);
    await publish([created(makeArticle({ id: "c", slug: "c" }), 3, scanAt)]);
    expect(federation.sentActivities).toHaveLength(0);
    const nextScan = later(scanAt, 60_000);
    await publish([created(makeArticle({ id: "d", slug: "d", published: nextScan }), 4, nextScan)]);
    expect(federation.sentActivities).toHaveLength(1);
  });

  it("pushes the first story of a folder that was empty at the first scan", async () => {
    const { federation, publish, scans } = setUp();
    scans.first = later(PUBLISHED, -60_000);
    await publish([created(makeArticle(), 1, PUBLISHED)]);
    expect(federation.sentActivities[0]?.activity).toBeInstanceOf(Create);
  });

  it("pushes when the store knows of no first scan (nothing to call an import)", async () => {
    const { federation, publish, scans } = setUp();
    scans.first = undefined;
    await publish([created(makeArticle(), 1)]);
    expect(federation.sentActivities[0]?.activity).toBeInstanceOf(Create);
  });

  it("pushes the first scan when told it is no import", async () => {
    const { federation, publish } = setUp({ quietImport: { firstScan: false } });
    await publish([created(makeArticle(), 1)]);
    expect(federation.sentActivities[0]?.activity).toBeInstanceOf(Create);
  });

  it("does not push an article published long before it was found, but its edits", async () => {
    const { federation, publish } = await live();
    const old = makeArticle();
    await publish([created(old, 2, later(PUBLISHED, 7 * HOUR))]);
    expect(federation.sentActivities).toHaveLength(0);
    await publish([updated({ ...old, updated: EDITED }, 3, EDITED)]);
    expect(federation.sentActivities[0]?.activity).toBeInstanceOf(Update);
  });

  it("takes the age limit from the options", async () => {
    const { federation, publish } = await live({ quietImport: { maxAgeMs: 8 * HOUR } });
    await publish([created(makeArticle(), 2, later(PUBLISHED, 7 * HOUR))]);
    expect(federation.sentActivities).toHaveLength(1);
  });
});

describe("createFederationPublisher() with Fedify's queue", () => {
  it("queues one fan-out to the followers' inboxes, ordered by object, with collection synchronization", async () => {
    const queue = new RecordingQueue();
    const kv = new MemoryKvStore();
    const followers = openSqliteFollowerStore(new DatabaseSync(":memory:"));
    for (const name of ["alice", "bob"]) {
      await followers.add({
        id: new URL(`https://a.test/users/${name}`),
        inbox: new URL(`https://a.test/users/${name}/inbox`),
        sharedInbox: new URL("https://a.test/inbox"),
        followId: new URL(`https://a.test/follows/${name}`),
        createdAt: PUBLISHED,
      });
    }
    const federation = buildFederation(
      { origin: ORIGIN, username: "news" },
      { store: memoryArticleStore([]), kv, queue, keys, followers },
    );
    const publish = createFederationPublisher(
      federation,
      { firstScan: async () => undefined },
      { origin: ORIGIN, username: "news", postType: "article", quietImport: { firstScan: false } },
    );
    await publish([created(makeArticle(), 1)]);
    // One fan-out, even to one server: its expansion names the followers behind each inbox.
    expect(queue.messages).toHaveLength(1);
    const [{ message, options } = { message: {}, options: undefined }] = queue.messages;
    expect(message).toMatchObject({
      type: "fanout",
      activityId: `${OBJECT_ID}#create`,
      collectionSync: `${ORIGIN.href}users/news/followers`,
      // One follower stands for the server's two.
      inboxes: {
        "https://a.test/inbox": { actorIds: ["https://a.test/users/alice"], sharedInbox: true },
      },
    });
    expect(options?.orderingKey).toBe(OBJECT_ID);
    await queue.close();
  });
});

describe("loadOrCreateKeys() keys in the publisher", () => {
  it("are accepted by Fedify for signing", async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "herald-keys-"));
    try {
      const kv = new MemoryKvStore();
      const realKeys = await loadOrCreateKeys(dir, kv);
      const queue = new RecordingQueue();
      const followers = openSqliteFollowerStore(new DatabaseSync(":memory:"));
      await followers.add({
        id: new URL("https://a.test/users/alice"),
        inbox: new URL("https://a.test/users/alice/inbox"),
        followId: new URL("https://a.test/follows/1"),
        createdAt: PUBLISHED,
      });
      const federation = buildFederation(
        { origin: ORIGIN, username: "news" },
        { store: memoryArticleStore([]), kv, queue, keys: realKeys, followers },
      );
      const publish = createFederationPublisher(
        federation,
        { firstScan: async () => undefined },
        {
          origin: ORIGIN,
          username: "news",
          postType: "article",
          quietImport: { firstScan: false },
        },
      );
      await publish([created(makeArticle(), 1)]);
      const message = queue.messages[0]?.message as { activity: { proof?: unknown } };
      expect(message.activity.proof).toBeDefined();
      await queue.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A Fedify `MessageQueue` that keeps what is enqueued and never delivers it. */
class RecordingQueue implements MessageQueue {
  readonly messages: { message: unknown; options?: MessageQueueEnqueueOptions }[] = [];
  readonly #stop = new AbortController();

  async enqueue(message: unknown, options?: MessageQueueEnqueueOptions): Promise<void> {
    this.messages.push({ message, ...(options == null ? {} : { options }) });
  }

  listen(
    _handler: (message: unknown) => Promise<void> | void,
    options: { signal?: AbortSignal } = {},
  ) {
    return new Promise<void>((resolve) => {
      this.#stop.signal.addEventListener("abort", () => resolve());
      options.signal?.addEventListener("abort", () => resolve());
    });
  }

  async close(): Promise<void> {
    this.#stop.abort();
  }
}
