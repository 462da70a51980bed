import { readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { InProcessMessageQueue, MemoryKvStore } from "@fedify/fedify";
import {
  Article as ArticleObject,
  Article as AS,
  Create,
  Delete,
  Document,
  Hashtag,
  LanguageString,
  Note,
  PUBLIC_COLLECTION,
  Tombstone,
  Update,
} from "@fedify/vocab";
import { describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import { buildFederation } from "../../src/federation/federation.ts";
import {
  type ObjectContext,
  objectContextOf,
  objectId,
  toActivity,
  toArticleObject,
  toCreate,
  toNote,
  toUpdate,
} from "../../src/federation/objects.ts";
import { toDate } from "../../src/federation/temporal.ts";
import { isParsed, parseArticle } from "../../src/source/parse.ts";
import { makeArticle } from "../helpers/article-fixture.ts";
import { seedPath } from "../helpers/articles.ts";
import {
  accountKeys,
  collect,
  deleted,
  EDITED,
  memoryArticleStore,
  ORIGIN,
  PUBLISHED,
  updated,
} from "./fixtures.ts";

const ctx: ObjectContext = {
  origin: ORIGIN,
  actorId: new URL("https://news.test/users/news"),
  followersId: new URL("https://news.test/users/news/followers"),
  postType: "article",
  timeZone: "UTC",
};
const noteCtx: ObjectContext = { ...ctx, postType: "note" };
const OBJECT_ID = "https://news.test/objects/0b7e8f2c-4d6a-4c1e-9a53-2f1d8c7b6a01";

describe("toArticleObject()", () => {
  it("has the article's id, title, summary, page and dates", () => {
    const object = toArticleObject(makeArticle(), ctx);
    expect(object).toBeInstanceOf(ArticleObject);
    expect(object.id?.href).toBe(OBJECT_ID);
    expect(object.name?.toString()).toBe("Hello, <world>");
    expect(object.summary?.toString()).toBe("The first story of Herald.");
    expect(object.url).toEqual(new URL("https://news.test/articles/hello-world"));
    expect(object.published && toDate(object.published)).toEqual(PUBLISHED);
    expect(object.updated).toBeNull();
  });

  it("carries `updated` once the article was edited", () => {
    const object = toArticleObject(makeArticle({ updated: EDITED }), ctx);
    expect(object.updated && toDate(object.updated)).toEqual(EDITED);
  });

  it("has the full content, also as contentMap keyed by the article's language", async () => {
    const object = toArticleObject(makeArticle(), ctx);
    const languages = object.contents
      .filter((content) => content instanceof LanguageString)
      .map((content) => content.locale.baseName);
    expect(languages).toEqual(["de"]);
    expect(object.content?.toString()).toBe("<p>Grüße aus der <em>Redaktion</em>.</p>");
    const json = (await object.toJsonLd({ format: "compact" })) as Record<string, unknown>;
    expect(json.contentMap).toEqual({ de: "<p>Grüße aus der <em>Redaktion</em>.</p>" });
  });

  it("says who may quote it (QUOTE_POLICY), as Mastodon 4.5 reads `canQuote`", () => {
    const approved = (policy?: ObjectContext["quotePolicy"]) =>
      toArticleObject(makeArticle(), {
        ...ctx,
        ...(policy ? { quotePolicy: policy } : {}),
      }).interactionPolicy?.canQuote?.automaticApprovals.map((url) => url.href);
    expect(approved()).toEqual([PUBLIC_COLLECTION.href]);
    expect(approved("public")).toEqual([PUBLIC_COLLECTION.href]);
    expect(approved("followers")).toEqual([ctx.followersId.href]);
    // Only the account itself: Mastodon's way of saying nobody else.
    expect(approved("nobody")).toEqual([ctx.actorId.href]);
    expect(toNote(makeArticle(), noteCtx).interactionPolicy?.canQuote).not.toBeNull();
  });

  it("is public, copies followers, and is attributed to the account", () => {
    const object = toArticleObject(makeArticle(), ctx);
    expect(object.toIds).toEqual([PUBLIC_COLLECTION]);
    expect(object.ccIds).toEqual([ctx.followersId]);
    expect(object.attributionId).toEqual(ctx.actorId);
  });

  it("tags with Hashtags that link to the tag pages", async () => {
    const tags = await collect(toArticleObject(makeArticle(), ctx).getTags());
    expect(tags.every((tag) => tag instanceof Hashtag)).toBe(true);
    expect(
      tags.map((tag) => [tag.name?.toString(), tag instanceof Hashtag && tag.href?.href]),
    ).toEqual([
      ["#news", "https://news.test/tags/news"],
      ["#world", "https://news.test/tags/world"],
    ]);
  });

  it("attaches a relative image through the media path, with its alt text", async () => {
    const [image] = await collect(toArticleObject(makeArticle(), ctx).getAttachments());
    expect(image).toBeInstanceOf(Document);
    const document = image as Document;
    expect(document.url).toEqual(new URL("https://news.test/media/images/cover.jpg?w=1600"));
    expect(document.mediaType).toBe("image/jpeg");
    expect(document.name?.toString()).toBe("A newsroom at dawn");
  });

  it("keeps an absolute image URL as it is", async () => {
    const article = makeArticle({ image: { src: "https://cdn.test/a.webp" } });
    const [image] = await collect(toArticleObject(article, ctx).getAttachments());
    expect((image as Document).url).toEqual(new URL("https://cdn.test/a.webp"));
    expect((image as Document).mediaType).toBe("image/webp");
  });

  it("attaches the images of the text after the cover, with alt text, once each, and makes their URLs absolute", async () => {
    const article = makeArticle({
      contentHtml:
        '<p>Text.</p><p><img src="/media/a/cat.jpg" alt="A &quot;cat&quot; &amp; dog" /></p>' +
        '<img src="https://cdn.test/p.png" alt="" /><img src="/media/images/cover.jpg" alt="again" />' +
        '<p><a href="/articles/other">other</a></p>',
    });
    const object = toArticleObject(article, ctx);
    const attachments = (await collect(object.getAttachments())) as Document[];
    expect(attachments.map((d) => [d.url?.toString(), d.mediaType, d.name?.toString()])).toEqual([
      ["https://news.test/media/images/cover.jpg?w=1600", "image/jpeg", "A newsroom at dawn"],
      ["https://news.test/media/a/cat.jpg?w=1600", "image/jpeg", 'A "cat" & dog'],
      ["https://cdn.test/p.png", "image/png", undefined],
    ]);
    const content = object.content?.toString() ?? "";
    expect(content).toContain('<img src="https://news.test/media/a/cat.jpg?w=1600"');
    expect(content).toContain('<a href="https://news.test/articles/other">');
    const note = toNote(article, noteCtx);
    expect(note.content?.toString()).toContain(
      '<img src="https://news.test/media/a/cat.jpg?w=1600"',
    );
  });

  it("never has an empty summary", () => {
    const fromText = toArticleObject(makeArticle({ summary: "  " }), ctx);
    expect(fromText.summary?.toString()).toBe("Grüße aus der Redaktion.");
    const fromTitle = toArticleObject(makeArticle({ summary: "", contentHtml: "<p></p>" }), ctx);
    // The summary is HTML (ActivityStreams 2.0): the title, plain text, is escaped in it.
    expect(fromTitle.summary?.toString()).toBe("Hello, &lt;world&gt;");
  });
});

describe("toNote()", () => {
  it("puts the escaped title in bold before the text, then the link; no name or summary", () => {
    const note = toNote(makeArticle(), noteCtx);
    expect(note).toBeInstanceOf(Note);
    const content = note.content?.toString() ?? "";
    expect(content.startsWith("<p><strong>Hello, &lt;world&gt;</strong></p><p>Grüße")).toBe(true);
    expect(content).toContain('href="https://news.test/articles/hello-world"');
    expect(note.name).toBeNull();
    expect(note.summary).toBeNull();
    expect(
      note.contents.some((c) => c instanceof LanguageString && c.locale.baseName === "de"),
    ).toBe(true);
  });
});

describe("toNote() and toArticleObject() on the seed story", () => {
  const parsed = parseArticle("belarus-nordkorea.txt", readFileSync(seedPath), {
    defaultLanguage: "en",
  });
  if (!isParsed(parsed)) throw new Error(`The seed did not parse: ${parsed.reason}`);
  const { title, summary, contentHtml, language } = parsed;
  const article = makeArticle({ title, summary, contentHtml, language });

  it("say the headline taken from its first sentence once", () => {
    const content = toNote(article, noteCtx).content?.toString() ?? "";
    expect(content.split(article.title)).toHaveLength(2);
    expect(content.startsWith(`<p><strong>${article.title}</strong></p><p>Im Mittelpunkt`)).toBe(
      true,
    );
    const card = toArticleObject(article, ctx);
    expect(card.summary?.toString().startsWith("Im Mittelpunkt der Reise")).toBe(true);
  });
});

describe("activities", () => {
  it("gives a Create the object's id plus #create, the same every time", () => {
    const create = toCreate(makeArticle(), ctx);
    expect(create).toBeInstanceOf(Create);
    expect(create.id?.href).toBe(`${OBJECT_ID}#create`);
    expect(create.actorId).toEqual(ctx.actorId);
    expect(toCreate(makeArticle(), ctx).id).toEqual(create.id);
  });

  it("wraps the configured post type", async () => {
    expect(await toCreate(makeArticle(), ctx).getObject()).toBeInstanceOf(ArticleObject);
    expect(await toCreate(makeArticle(), noteCtx).getObject()).toBeInstanceOf(Note);
  });

  it("derives Update ids from the event's seq, and dates the edit no earlier than the event", async () => {
    const at = new Date("2026-03-05T00:00:00.000Z");
    const update = toUpdate(
      { ...updated(makeArticle({ updated: EDITED }), 7, at), type: "updated" },
      ctx,
    );
    expect(update).toBeInstanceOf(Update);
    expect(update.id?.href).toBe(`${OBJECT_ID}#update-7`);
    const object = await update.getObject();
    expect(object?.updated && toDate(object.updated)).toEqual(at);
    const again = toActivity(updated(makeArticle({ updated: EDITED }), 7, at), ctx);
    expect(again.id).toEqual(update.id);
    expect(toActivity(updated(makeArticle(), 8, at), ctx).id?.href).toBe(`${OBJECT_ID}#update-8`);
  });

  it("deletes with a Tombstone of the object", async () => {
    const at = new Date("2026-03-06T00:00:00.000Z");
    const deletion = toActivity(deleted(makeArticle(), 9, at), ctx);
    expect(deletion).toBeInstanceOf(Delete);
    expect(deletion.id?.href).toBe(`${OBJECT_ID}#delete-9`);
    const tombstone = await deletion.getObject();
    expect(tombstone).toBeInstanceOf(Tombstone);
    expect(tombstone?.id?.href).toBe(OBJECT_ID);
    expect(deletion.toIds).toEqual([PUBLIC_COLLECTION]);
    expect(deletion.ccIds).toEqual([ctx.followersId]);
  });
});

describe("objectContextOf()", () => {
  it("yields the ids Fedify routes, so objectId() matches the object dispatcher", async () => {
    const federation = buildFederation(
      { origin: ORIGIN, username: "news" },
      {
        store: memoryArticleStore([]),
        kv: new MemoryKvStore(),
        queue: new InProcessMessageQueue(),
        keys: await accountKeys(),
        followers: openSqliteFollowerStore(new DatabaseSync(":memory:")),
      },
    );
    const fedifyCtx = federation.createContext(new URL("http://internal:8080/"), undefined);
    const objects = objectContextOf(fedifyCtx, "news", "article");
    expect(objects.origin).toEqual(new URL("https://news.test/"));
    expect(objects.actorId.href).toBe("https://news.test/users/news");
    expect(fedifyCtx.getObjectUri(AS, { id: makeArticle().id })).toEqual(
      objectId(makeArticle().id, objects),
    );
  });
});
