/**
 * Herald and snac2, a fediverse server nobody on this project wrote, talking through a real TLS
 * proxy as in production: Herald on 127.0.0.1 behind https://herald.test, snac behind
 * https://snac.test, both names on loopback addresses, a throwaway CA trusted system-wide (snac
 * fetches with libcurl) and by Herald (`NODE_EXTRA_CA_CERTS`).
 *
 * One snac and one Herald for the whole file: the steps build on each other (follow, publish,
 * edit, delete, interact, restart as Note, unfollow, move), so they run in order.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import {
  freePort,
  type HeraldFolders,
  type HeraldProcess,
  makeFolders,
  spawnHerald,
} from "../helpers/herald-spawn.ts";
import { eventually } from "../helpers/interactions.ts";
import {
  type JsonObject,
  type SnacServer,
  type SnacUser,
  snacBinary,
  startSnac,
} from "../helpers/snac.ts";
import {
  createTestCa,
  heraldTlsEnv,
  mapHosts,
  proxyEach,
  type ReverseProxy,
  skipUnlessRoot,
  TEST_HOSTS,
  type TestCa,
  testAgent,
} from "../helpers/tls-proxy.ts";

// update-ca-certificates takes 10 to 30 s here, once in and once out; building snac 20 to 60 s
// (.ci/run builds it first); a Herald start under a full parallel suite can take a minute.
const SETUP_TIMEOUT = 240_000;
const RESTART_TIMEOUT = 150_000;
const skip = skipUnlessRoot("the snac2 interop suite");

const heraldOrigin = new URL(`https://${TEST_HOSTS.herald.name}`);
const heraldActor = new URL("/users/news", heraldOrigin);
const heraldHandle = `@news@${TEST_HOSTS.herald.name}`;

const asList = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value == null ? [] : [value];

// Each step waits on two servers' queues (snac polls its own every 3 s): room for a loaded machine.
const STEP_TIMEOUT = 90_000;

describe.skipIf(skip)("Herald and snac2 through a TLS proxy", { timeout: STEP_TIMEOUT }, () => {
  let folders: HeraldFolders & { remove(): void };
  let snac: SnacServer;
  let reader: SnacUser;
  let newsdesk: SnacUser;
  let herald: HeraldProcess;
  let heraldEnv: Record<string, string>;
  let ca: TestCa;
  let proxies: ReverseProxy[] = [];
  let agent: ReturnType<typeof testAgent>;

  /** GET through the proxy, as any client of https://herald.test. */
  const get = (path: string, accept = "*/*") =>
    fetch(new URL(path, heraldOrigin), { dispatcher: agent, headers: { accept } });
  const fetchJson = async (path: string) =>
    (await (await get(path, "application/activity+json")).json()) as JsonObject;
  const followerCount = async () => Number((await fetchJson("/users/news/followers")).totalItems);
  const feedItem = async (id: URL) => {
    const feed = (await (await get("/feed.json")).json()) as { items: JsonObject[] };
    return feed.items.find((item) => item.id === id.href);
  };
  /** Drops an article file; resolves with the id snac stored it under, once it did. */
  const publish = async (file: string, text: string) => {
    const before = new Set(reader.timeline());
    writeFileSync(join(folders.articles, file), text);
    const ids = await eventually(
      () => reader.timeline().filter((id) => !before.has(id) && id.startsWith(heraldOrigin.href)),
      (fresh) => expect(fresh, snac.output()).toHaveLength(1),
    );
    return new URL(String(ids[0]));
  };
  /** Herald on 127.0.0.1:`port`, behind https://herald.test. */
  const startHeraldOn = (port: number, env: Record<string, string> = {}) => {
    heraldEnv = {
      PUBLIC_URL: heraldOrigin.origin,
      ALLOW_PRIVATE_ADDRESS: "true",
      ...heraldTlsEnv(ca),
      ...env,
    };
    return spawnHerald(folders, { port, env: heraldEnv });
  };

  beforeAll(async () => {
    snacBinary(); // the first run builds it
    ca = await createTestCa();
    // snac fetches with libcurl, which reads only the system trust store.
    await ca.trustSystemWide();
    mapHosts([TEST_HOSTS.herald, TEST_HOSTS.snac]);
    agent = testAgent(ca.certPem, {
      [TEST_HOSTS.herald.name]: TEST_HOSTS.herald.address,
    });
    folders = makeFolders();
    snac = await startSnac(TEST_HOSTS.snac.name);
    reader = await snac.addUser("reader");
    newsdesk = await snac.addUser("newsdesk");
    const heraldPort = await freePort();
    proxies.push(
      ...(await proxyEach(ca, [
        [TEST_HOSTS.herald, heraldPort],
        [TEST_HOSTS.snac, snac.port],
      ])),
    );
    herald = await startHeraldOn(heraldPort);
  }, SETUP_TIMEOUT);

  afterAll(async () => {
    await herald?.kill();
    await snac?.stop();
    for (const proxy of proxies) await proxy.stop();
    proxies = [];
    await agent?.close();
    await ca?.remove();
    folders?.remove();
  }, SETUP_TIMEOUT);

  it("snac follows the account and records Herald's Accept", async () => {
    await reader.follow(heraldHandle);
    const state = await eventually(
      () => reader.following(heraldActor),
      (value) => expect(value?.type, snac.output()).toBe("Accept"),
    );
    expect(state?.actor).toBe(heraldActor.href);
    expect(await followerCount()).toBe(1);
  });

  let articleId: URL;

  it("delivers a new story as an Article with its title, summary, content, tags and language", async () => {
    articleId = await publish(
      "wahl.md",
      [
        "---",
        "title: Wahl in Weißrussland",
        "summary: Die Straßen waren voll.",
        "tags: [Wahl, Minsk]",
        "language: de",
        "---",
        "Die Straße war voller Menschen, und alle warteten auf das Ergebnis.",
      ].join("\n"),
    );
    const stored = snac.object(articleId);
    expect(stored?.type).toBe("Article");
    expect(stored?.attributedTo).toBe(heraldActor.href);
    expect(stored?.name).toBe("Wahl in Weißrussland");
    expect(stored?.summary).toBe("Die Straßen waren voll.");
    expect(stored?.content).toContain("Die Straße war voller Menschen");
    expect((stored?.contentMap as JsonObject | undefined)?.de).toContain("voller Menschen");
    expect(asList(stored?.tag).map((tag) => (tag as JsonObject).name)).toEqual(["#Wahl", "#Minsk"]);
    expect(stored?.url).toBe(new URL("/articles/wahl", heraldOrigin).href);
    // What a snac user sees: the title as a heading, the summary as a content warning (a
    // collapsed <details> labelled "[SENSITIVE CONTENT]") over the content, the hashtags.
    const page = await reader.timelinePage();
    expect(page).toContain('<h3 class="snac-entry-title">Wahl in Weißrussland</h3>');
    expect(page).toContain("<summary>Die Straßen waren voll. [SENSITIVE CONTENT]</summary>");
    expect(page).toContain(
      "<p>Die Straße war voller Menschen, und alle warteten auf das Ergebnis.</p>",
    );
  });

  // snac links a hashtag with its href lowercased (html.c, "snac-more-hashtags":
  // xs_utf8_to_lower(href)), so #Wahl points at https://herald.test/tags/wahl: Herald matches
  // tags whatever their case and redirects to the tag's one URL (issue #15, item 5).
  it("opens the tag page from snac's hashtag link", async () => {
    const href = /<a href="([^"]+)">#Wahl <\/a>/.exec(await reader.timelinePage())?.[1];
    expect(href).toBe(new URL("/tags/wahl", heraldOrigin).href);
    const response = await get(new URL(String(href)).pathname);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("Wahl in Weißrussland");
  });

  it("replaces snac's copy on an edit (Update), correction notice included", async () => {
    writeFileSync(
      join(folders.articles, "wahl.md"),
      [
        "---",
        "title: Wahl in Weißrussland (korrigiert)",
        "summary: Die Straßen waren voll.",
        "tags: [Wahl, Minsk]",
        "language: de",
        'correction: { date: 2026-12-06, text: "Das Ergebnis kam am Morgen, nicht am Abend." }',
        "---",
        "Die Straße war voller Menschen. Das Ergebnis kam am Morgen.",
      ].join("\n"),
    );
    const stored = await eventually(
      () => snac.object(articleId),
      (value) => expect(value?.name, snac.output()).toBe("Wahl in Weißrussland (korrigiert)"),
    );
    expect(stored?.content).toContain("Das Ergebnis kam am Morgen.");
    const text = String(stored?.content).replace(/<[^>]*>/g, "");
    expect(text).toContain(
      "Korrektur vom 6. Dezember 2026: Das Ergebnis kam am Morgen, nicht am Abend.",
    );
    expect(stored?.updated).toBeDefined();
  });

  it("holds snac's replies for review, counts its like and boost, and shows a reply once approved", async () => {
    const kept = await reader.note("Danke für den Bericht aus Minsk!", articleId);
    const spam = await reader.note("Billige Uhren hier!", articleId);
    await reader.like(articleId);
    await reader.boost(articleId);
    await eventually(
      async () => (await feedItem(articleId))?._herald,
      (counts) =>
        expect(counts, snac.output()).toEqual({ replies: 0, likes: 1, boosts: 1, quotes: 0 }),
    );
    const replies = (...args: string[]) => runCli("replies", folders, herald, args, heraldEnv);
    const listed = await eventually(
      () => replies(),
      (run) => expect(run.stdout, run.stderr).toContain("2 replies wait for review"),
    );
    expect(listed.stdout).toContain(kept.href);
    expect(listed.stdout).toContain(`@reader@${TEST_HOSTS.snac.name}`);
    expect(listed.stdout).toContain("text     Danke für den Bericht aus Minsk!");
    expect(await (await get("/articles/wahl")).text()).not.toContain("Danke für den Bericht");

    expect((await replies("approve", kept.href)).code).toBe(0);
    expect((await replies("reject", spam.href)).code).toBe(0);
    const html = await eventually(
      async () => (await get("/articles/wahl")).text(),
      (text) => expect(text, snac.output()).toContain("1 Antwort · 1 Favorit · 1 Boost"),
    );
    expect(html).toContain("Danke für den Bericht aus Minsk!");
    expect(html).not.toContain("Billige Uhren");
    expect(html).toContain(`@reader@${TEST_HOSTS.snac.name}`);
    expect((await feedItem(articleId))?._herald).toEqual({
      replies: 1,
      likes: 1,
      boosts: 1,
      quotes: 0,
    });
    expect((await replies()).stdout).toContain("No replies wait for review.");
  });

  it("answers snac's signed GETs: actor, outbox and its first page, followers, object, page", async () => {
    const actor = await reader.request(heraldActor);
    expect(actor.status).toBe(200);
    expect(actor.body?.id).toBe(heraldActor.href);
    const outboxUrl = new URL(String(actor.body?.outbox));
    const outbox = await reader.request(outboxUrl);
    expect(outbox.status).toBe(200);
    expect(outbox.body?.totalItems).toBe(1);
    const first = await reader.request(new URL(String(outbox.body?.first)));
    expect(first.status).toBe(200);
    const creates = asList(first.body?.orderedItems) as JsonObject[];
    expect(creates.map((create) => (create.object as JsonObject).id)).toEqual([articleId.href]);
    const followers = await reader.request(new URL(String(actor.body?.followers)));
    expect(followers.status).toBe(200);
    expect(followers.body?.totalItems).toBe(1);
    const object = await reader.request(articleId);
    expect(object.status).toBe(200);
    expect(object.body?.id).toBe(articleId.href);
    const page = await reader.request(new URL("/articles/wahl", heraldOrigin));
    expect(page.status).toBe(200);
    expect(page.body?.id).toBe(articleId.href);
  });

  it("deletes snac's copy when the story is removed (Delete)", async () => {
    rmSync(join(folders.articles, "wahl.md"));
    await eventually(
      () => reader.timeline(),
      (ids) => expect(ids, snac.output()).not.toContain(articleId.href),
    );
  });

  it("delivers a story as a Note with POST_TYPE=note", { timeout: RESTART_TIMEOUT }, async () => {
    await herald.stop();
    herald = await startHeraldOn(herald.port, { POST_TYPE: "note" });
    const id = await publish(
      "gipfel.md",
      [
        "---",
        "title: Gipfel in Wien",
        "summary: Die Minister trafen sich.",
        "tags: [Wien]",
        "language: de",
        "---",
        "Am Montag trafen sich die Minister in der Hofburg.",
      ].join("\n"),
    );
    const stored = snac.object(id);
    expect(stored?.type).toBe("Note");
    expect(stored?.name).toBeUndefined();
    expect(stored?.summary).toBeUndefined();
    expect(stored?.content).toContain("<strong>Gipfel in Wien</strong>");
    expect(stored?.content).toContain("Am Montag trafen sich die Minister in der Hofburg.");
    expect(stored?.content).toContain(new URL("/articles/gipfel", heraldOrigin).href);
    expect((stored?.contentMap as JsonObject | undefined)?.de).toBeDefined();
    expect(asList(stored?.tag).map((tag) => (tag as JsonObject).name)).toEqual(["#Wien"]);
    // What a snac user sees: the whole text, no content warning.
    const page = await reader.timelinePage();
    expect(page).toContain("<p><strong>Gipfel in Wien</strong></p><p>Am Montag trafen sich");
  });

  // Issue #18.1: a story names its author by the authors file; the author's snac account, which
  // follows nobody, gets the post (a Note: snac takes a Create with a `name` for a poll vote
  // and notifies nobody of it) with the mention linked in the text, and a notification.
  it("notifies the author's snac account, named in the authors file, of the story", async () => {
    writeFileSync(join(folders.articles, "authors.yml"), `Die Redaktion: "@${newsdesk.handle}"\n`);
    writeFileSync(
      join(folders.articles, "portrait.md"),
      "---\ntitle: Ein Porträt\nlanguage: de\nauthor: Die Redaktion\n---\nEin Tag in Minsk.",
    );
    const delivered = await eventually(
      () => newsdesk.timeline().filter((id) => id.startsWith(heraldOrigin.href)),
      (ids) => expect(ids, snac.output()).toHaveLength(1),
    );
    const id = String(delivered[0]);
    const stored = snac.object(id);
    expect(asList(stored?.tag)).toContainEqual(
      expect.objectContaining({ type: "Mention", href: newsdesk.actorUrl.href }),
    );
    expect(String(stored?.content)).toContain(
      `Die Redaktion <span class="h-card" translate="no"><a href="${newsdesk.actorUrl.href}" class="u-url mention">@<span>newsdesk</span></a></span>`,
    );
    const notified = await eventually(
      () => newsdesk.notifications().filter((n) => n.objid === id),
      (found) => expect(found, snac.output()).toHaveLength(1),
    );
    expect(notified[0]).toMatchObject({ type: "Create", actor: heraldActor.href });
    // What the journalist sees on the page: the story links back to their own account.
    expect(await (await get("/articles/portrait")).text()).toContain(
      `<meta name="fediverse:creator" content="@${newsdesk.handle}">`,
    );
  });

  it("stops delivering once snac unfollows", async () => {
    await reader.unfollow(heraldActor);
    await eventually(followerCount, (count) => expect(count, herald.output()).toBe(0));
    const before = reader.timeline();
    writeFileSync(
      join(folders.articles, "spaet.md"),
      "---\ntitle: Zu spät\nlanguage: de\n---\nDiese Meldung erreicht snac nicht mehr.",
    );
    await herald.waitForLog(/Article created: Zu spät/);
    // Herald has nobody to deliver to; give a stray delivery time to arrive anyway.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(reader.timeline()).toEqual(before);
  });

  it("moves the account to a snac account, and snac's follower follows the new one", async () => {
    await reader.follow(heraldHandle);
    await eventually(
      () => reader.following(heraldActor),
      (value) => expect(value?.type, snac.output()).toBe("Accept"),
    );
    await newsdesk.alias(heraldHandle);
    const result = await runCli("move", folders, herald, [`@${newsdesk.handle}`], heraldEnv);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Queued a Move for 1 follower.");
    await eventually(
      () => reader.following(newsdesk.actorUrl),
      (value) => expect(value?.type, snac.output()).toBe("Accept"),
    );
    expect(reader.following(heraldActor)).toBeUndefined();
    expect((await fetchJson(heraldActor.pathname)).movedTo).toBe(newsdesk.actorUrl.href);
  });
});
