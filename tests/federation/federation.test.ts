import { DatabaseSync } from "node:sqlite";
import { type Federation, MemoryKvStore } from "@fedify/fedify";
import { createFederation as createMockFederation } from "@fedify/testing";
import {
  Article as ArticleObject,
  Create,
  Note,
  Person,
  PropertyValue,
  Service,
} from "@fedify/vocab";
import { beforeAll, describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import {
  dispatchFeatured,
  dispatchFollowers,
  dispatchOutbox,
  PAGE_SIZE,
} from "../../src/federation/collections.ts";
import { type FederationOptions, registerFederation } from "../../src/federation/federation.ts";
import type { AccountKeys } from "../../src/federation/keys.ts";
import { toNodeInfo } from "../../src/federation/nodeinfo.ts";
import type { ObjectContext } from "../../src/federation/objects.ts";
import { toDate } from "../../src/federation/temporal.ts";
import type { ArticleState } from "../../src/store/store.ts";
import { makeArticle } from "../helpers/article-fixture.ts";
import { accountKeys, collect, memoryArticleStore, ORIGIN, PUBLISHED } from "./fixtures.ts";

let keys: AccountKeys;
beforeAll(async () => {
  keys = await accountKeys();
});

const published = makeArticle();
const gone = makeArticle({ id: "gone", slug: "gone" });
const draft = makeArticle({ id: "draft", slug: "draft" });

function setUp(options: Partial<FederationOptions> = {}) {
  const federation = createMockFederation<void>({ contextData: undefined, origin: ORIGIN.href });
  registerFederation(
    federation as unknown as Federation<void>,
    { origin: ORIGIN, username: "news", ...options },
    {
      store: memoryArticleStore([
        { article: published, state: "published" },
        { article: gone, state: "deleted" },
        { article: draft, state: "draft" },
      ]),
      kv: new MemoryKvStore(),
      queue: { enqueue: async () => {}, listen: async () => {} },
      keys,
      followers: openSqliteFollowerStore(new DatabaseSync(":memory:")),
    },
  );
  return federation.createContext(ORIGIN, undefined);
}

describe("the actor dispatcher", () => {
  it("describes the account as a discoverable Service with its collections and keys", async () => {
    const actor = await setUp().getActor("news");
    expect(actor).toBeInstanceOf(Service);
    expect(actor?.id?.href).toBe("https://news.test/users/news");
    expect(actor?.preferredUsername?.toString()).toBe("news");
    expect(actor?.inboxId?.href).toBe("https://news.test/users/news/inbox");
    expect(actor?.outboxId?.href).toBe("https://news.test/users/news/outbox");
    expect(actor?.followersId?.href).toBe("https://news.test/users/news/followers");
    expect(actor?.featuredId?.href).toBe("https://news.test/users/news/featured");
    expect(actor?.endpoints?.sharedInbox?.href).toBe("https://news.test/inbox");
    expect(actor?.url).toEqual(new URL("https://news.test/"));
    expect(actor?.discoverable).toBe(true);
    expect(actor?.indexable).toBe(true);
    expect(actor?.manuallyApprovesFollowers).toBe(false);
    expect(actor?.published && toDate(actor.published)).toEqual(PUBLISHED);
    // The mock gives keys no ids; the HTTP test checks the real ones.
    expect((await actor?.getPublicKey())?.publicKey).toBeDefined();
    expect(await collect(actor?.getAssertionMethods() ?? emptyIterable())).toHaveLength(2);
  });

  it("lists the site and its feeds as rel=me profile fields", async () => {
    const actor = await setUp().getActor("news");
    const fields = (await collect(actor?.getAttachments() ?? emptyIterable())).filter(
      (field) => field instanceof PropertyValue,
    );
    expect(fields.map((field) => field.name?.toString())).toEqual([
      "Website",
      "RSS",
      "Atom",
      "JSON Feed",
    ]);
    expect(fields[1]?.value?.toString()).toContain('href="https://news.test/feed.xml"');
    expect(fields[1]?.value?.toString()).toContain('rel="me');
  });

  it("takes type, name, bio and images from the profile options", async () => {
    const actor = await setUp({
      username: "daily",
      profile: {
        type: "Person",
        name: "The Daily",
        summary: "News & views.\n\nEvery day.",
        avatar: new URL("https://news.test/avatar.png"),
        header: new URL("https://news.test/header.jpg"),
      },
    }).getActor("daily");
    expect(actor).toBeInstanceOf(Person);
    expect(actor?.name?.toString()).toBe("The Daily");
    expect(actor?.summary?.toString()).toBe("<p>News &amp; views.</p><p>Every day.</p>");
    expect((await actor?.getIcon())?.url).toEqual(new URL("https://news.test/avatar.png"));
    expect((await actor?.getImage())?.url).toEqual(new URL("https://news.test/header.jpg"));
  });

  it("knows no other actor", async () => {
    expect(await setUp().getActor("admin")).toBeNull();
  });
});

describe("the object dispatcher", () => {
  it("serves published articles only", async () => {
    const ctx = setUp();
    const object = await ctx.getObject(ArticleObject, { id: published.id });
    expect(object).toBeInstanceOf(ArticleObject);
    expect(object?.id?.href).toBe(`https://news.test/objects/${published.id}`);
    expect(await ctx.getObject(ArticleObject, { id: gone.id })).toBeNull();
    expect(await ctx.getObject(ArticleObject, { id: draft.id })).toBeNull();
  });

  it("serves Notes in note mode", async () => {
    const object = await setUp({ postType: "note" }).getObject(Note, { id: published.id });
    expect(object).toBeInstanceOf(Note);
  });
});

describe("collections", () => {
  const ctx: ObjectContext = {
    origin: ORIGIN,
    actorId: new URL("https://news.test/users/news"),
    followersId: new URL("https://news.test/users/news/followers"),
    postType: "article",
    timeZone: "UTC",
  };
  const many = Array.from({ length: PAGE_SIZE + 5 }, (_, i) => ({
    article: makeArticle({
      id: `a${i}`,
      slug: `a${i}`,
      published: new Date(PUBLISHED.getTime() + i * 60_000),
      pinned: i === 3,
    }),
    state: "published" as ArticleState,
  }));

  it("pages the outbox newest first, one Create per article", async () => {
    const store = memoryArticleStore(many);
    const first = await dispatchOutbox(store, async () => ctx, "0");
    expect(first.items).toHaveLength(PAGE_SIZE);
    expect(first.items.every((item) => item instanceof Create)).toBe(true);
    expect(first.items[0]?.id?.href).toBe(`https://news.test/objects/a${PAGE_SIZE + 4}#create`);
    expect(first.nextCursor).toBe(String(PAGE_SIZE));
    const second = await dispatchOutbox(store, async () => ctx, first.nextCursor ?? null);
    expect(second.items).toHaveLength(5);
    expect(second.nextCursor).toBeNull();
  });

  it("features pinned articles, or else the latest three", async () => {
    const pinned = await dispatchFeatured(memoryArticleStore(many), async () => ctx);
    expect(pinned.items.map((item) => item.id?.href)).toEqual(["https://news.test/objects/a3"]);
    const unpinned = many.map((r) => ({ ...r, article: { ...r.article, pinned: false } }));
    const latest = await dispatchFeatured(memoryArticleStore(unpinned), async () => ctx);
    expect(latest.items).toHaveLength(3);
    expect(latest.items[0]?.id?.href).toBe(`https://news.test/objects/a${PAGE_SIZE + 4}`);
  });

  it("gives all followers with their inboxes at once, or one server's when filtered", async () => {
    const followers = openSqliteFollowerStore(new DatabaseSync(":memory:"));
    await followers.add({
      id: new URL("https://a.test/users/alice"),
      inbox: new URL("https://a.test/users/alice/inbox"),
      sharedInbox: new URL("https://a.test/inbox"),
      followId: new URL("https://a.test/follows/1"),
      createdAt: PUBLISHED,
    });
    await followers.add({
      id: new URL("https://c.test/carol"),
      inbox: new URL("https://c.test/carol/inbox"),
      followId: new URL("https://c.test/follows/1"),
      createdAt: PUBLISHED,
    });
    const all = await dispatchFollowers(followers, null);
    expect(
      all.items.map((r) => [r.id?.href, r.endpoints?.sharedInbox?.href ?? r.inboxId?.href]),
    ).toEqual([
      ["https://a.test/users/alice", "https://a.test/inbox"],
      ["https://c.test/carol", "https://c.test/carol/inbox"],
    ]);
    const filtered = await dispatchFollowers(followers, null, new URL("https://c.test/"));
    expect(filtered.items.map((r) => r.id?.href)).toEqual(["https://c.test/carol"]);
    const page = await dispatchFollowers(followers, "0");
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBeNull();
  });
});

describe("toNodeInfo()", () => {
  it("names the software and counts published articles as local posts", () => {
    const info = toNodeInfo(42, "1.2.3");
    expect(info.software).toEqual({ name: "herald", version: "1.2.3" });
    expect(info.protocols).toEqual(["activitypub"]);
    expect(info.usage.localPosts).toBe(42);
    expect(info.openRegistrations).toBe(false);
  });
});

async function* emptyIterable(): AsyncIterable<never> {}
