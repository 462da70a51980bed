import { DatabaseSync } from "node:sqlite";
import { type Federation, MemoryKvStore } from "@fedify/fedify";
import { createFederation as createMockFederation } from "@fedify/testing";
import { Article as ArticleObject, type Create, Note, type Update } from "@fedify/vocab";
import { beforeAll, describe, expect, it } from "vitest";
import type { Article } from "../../src/article.ts";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import { renderPreview } from "../../src/cli/preview.ts";
import { dispatchOutbox } from "../../src/federation/collections.ts";
import { createFederationPublisher } from "../../src/federation/delivery/publisher.ts";
import { registerFederation } from "../../src/federation/federation.ts";
import type { AccountKeys } from "../../src/federation/keys.ts";
import type { ObjectContext, Post, PostType } from "../../src/federation/objects.ts";
import { isParsed, parseArticle } from "../../src/source/parse.ts";
import { mastodonText } from "../helpers/mastodon-text.ts";
import {
  accountKeys,
  created,
  memoryArticleStore,
  ORIGIN,
  PUBLISHED,
  updated,
} from "./fixtures.ts";

// What an author may write in front matter: markup, entities, bare `<` and `&`, quotes.
const TITLE = `Tom & Jerry: a < b, "quoted" <b>not bold</b> &amp; &lt;x&gt; </p>`;
const SUMMARY = `a < b und c > d & e &amp; f &lt;g&gt; "q" it's <script>alert(1)</script> </p> <!-- c -->`;
const SOURCE = [
  "---",
  `title: '${TITLE.replaceAll("'", "''")}'`,
  `summary: '${SUMMARY.replaceAll("'", "''")}'`,
  "language: en",
  "---",
  "The body: a < b & c, <script>alert(2)</script> and *emphasis*.",
  "",
].join("\n");
const EDITED = new Date(PUBLISHED.getTime() + 3_600_000);

/** The hostile article, through the real parser, as the store would hand it on. */
function hostileArticle(): Article {
  const parsed = parseArticle("hostile.md", new TextEncoder().encode(SOURCE), {
    defaultLanguage: "en",
  });
  if (!isParsed(parsed)) throw new Error(`The fixture does not parse: ${parsed.reason}`);
  expect(parsed.title).toBe(TITLE);
  expect(parsed.summary).toBe(SUMMARY);
  return {
    ...parsed,
    id: "0b7e8f2c-4d6a-4c1e-9a53-2f1d8c7b6a02",
    published: PUBLISHED,
    updated: PUBLISHED,
  };
}

let keys: AccountKeys;
beforeAll(async () => {
  keys = await accountKeys();
});

/** The objects followers get (Create, then Update) and those the outbox and object URL serve. */
async function everyPost(postType: PostType): Promise<Map<string, Post>> {
  const article = hostileArticle();
  const federation = createMockFederation<void>({ contextData: undefined, origin: ORIGIN.href });
  const store = memoryArticleStore([{ article, state: "published" }]);
  registerFederation(
    federation as unknown as Federation<void>,
    { origin: ORIGIN, username: "news", postType },
    {
      store,
      kv: new MemoryKvStore(),
      queue: { enqueue: async () => {}, listen: async () => {} },
      keys,
      followers: openSqliteFollowerStore(new DatabaseSync(":memory:")),
    },
  );
  const publish = createFederationPublisher(
    federation as unknown as Federation<void>,
    { firstScan: async () => new Date(0) },
    { origin: ORIGIN, username: "news", postType },
  );
  await publish([created(article, 2), updated({ ...article, updated: EDITED }, 3, EDITED)]);
  const [create, update] = federation.sentActivities.map((sent) => sent.activity) as [
    Create,
    Update,
  ];
  const ctx = federation.createContext(ORIGIN, undefined);
  const objectContext: ObjectContext = {
    origin: ORIGIN,
    actorId: ctx.getActorUri("news"),
    followersId: ctx.getFollowersUri("news"),
    postType,
    timeZone: "UTC",
  };
  const outbox = await dispatchOutbox(store, async () => objectContext, "0");
  const type = postType === "note" ? Note : ArticleObject;
  const posts = new Map<string, Post | null>([
    ["Create", (await create.getObject()) as Post | null],
    ["Update", (await update.getObject()) as Post | null],
    ["outbox", ((await outbox.items[0]?.getObject()) as Post | null) ?? null],
    [
      "object URL",
      postType === "note"
        ? await ctx.getObject(Note, { id: article.id })
        : await ctx.getObject(ArticleObject, { id: article.id }),
    ],
  ]);
  for (const [where, post] of posts) expect(post, where).toBeInstanceOf(type);
  return posts as Map<string, Post>;
}

describe("ActivityPub text fields, by the spec (summary and content HTML, name plain text)", () => {
  it("POST_TYPE=article: Mastodon shows the summary and the title exactly as written", async () => {
    for (const [where, post] of await everyPost("article")) {
      expect(mastodonText(post.summary?.toString() ?? ""), where).toBe(SUMMARY);
      // `name` is plain text: no tags stripped, no entities to decode.
      expect(post.name?.toString(), where).toBe(TITLE);
      expect(mastodonText(post.content?.toString() ?? ""), where).toBe(
        mastodonText(hostileArticle().contentHtml),
      );
    }
  });

  it("POST_TYPE=note: the content shows the title, the text and the link as written", async () => {
    const article = hostileArticle();
    for (const [where, post] of await everyPost("note")) {
      expect(mastodonText(post.content?.toString() ?? ""), where).toBe(
        `${TITLE}${mastodonText(article.contentHtml)}https://news.test/articles/${article.slug}`,
      );
      expect(post.name, where).toBeNull();
      expect(post.summary, where).toBeNull();
    }
  });

  it("keeps the text's markup as markup, and never lets the author's markup through", () => {
    const html = hostileArticle().contentHtml;
    expect(mastodonText(html).trim()).toBe("The body: a < b & c, and emphasis.");
  });
});

describe("npm run preview", () => {
  it("shows the summary and the title Mastodon will show", () => {
    const parsed = parseArticle("hostile.md", new TextEncoder().encode(SOURCE), {
      defaultLanguage: "en",
    });
    if (!isParsed(parsed)) throw new Error(parsed.reason);
    const preview = renderPreview(parsed, SOURCE, { origin: ORIGIN, siteLanguage: "en" });
    expect(preview).toContain(`a card with the title "${TITLE}",`);
    expect(preview).toContain(`the summary "${SUMMARY}"`);
    expect(preview).toContain(
      `  ${TITLE} The body: a < b & c, and emphasis. https://news.test/articles/hostile`,
    );
  });
});
