import { describe, expect, it, onTestFinished } from "vitest";
import { type JsonObject, PUBLIC_COLLECTION, startFakeRemote } from "../helpers/fake-remote.ts";
import { createOf, eventually, publishReactedArticle, replyNote } from "../helpers/interactions.ts";

describe("Replies, likes and boosts from the fediverse", () => {
  it("shows them on the article page and counts them in the JSON Feed until their authors take them back", async () => {
    const remote = await startFakeRemote({ users: ["alice", "bob", "carol", "mallory", "troll"] });
    onTestFinished(() => remote.close());
    const article = await publishReactedArticle(remote, {
      HIDE_REACTIONS_FROM: `@troll@${remote.host}`,
    });
    const { objectId, inbox } = article;
    const page = article.page;
    const counts = article.counts;
    const send = (user: string, activity: JsonObject) => article.send(remote, user, activity);
    const actor = (user: string) => remote.actorUrl(user).href;
    const note = (user: string, n: number, content: string, to = [PUBLIC_COLLECTION]) =>
      replyNote(remote, user, n, objectId, content, to);
    const create = (user: string, object: ReturnType<typeof note>) =>
      send(user, createOf(remote, user, object));

    // A public reply, with markup a page must not run.
    const reply = note(
      "alice",
      1,
      '<p>Starker Bericht <script>alert(1)</script><a href="javascript:alert(2)">hier</a> <a href="https://example.test/x" class="u-url">Quelle</a></p><img src=x onerror=alert(3)>',
    );
    await create("alice", reply);
    // A like and a boost.
    const like = {
      id: `${actor("bob")}#likes/1`,
      type: "Like",
      actor: actor("bob"),
      object: objectId,
    };
    await send("bob", like);
    const boost = {
      id: `${actor("bob")}/statuses/9/activity`,
      type: "Announce",
      actor: actor("bob"),
      object: objectId,
      to: [PUBLIC_COLLECTION],
      published: "2026-11-29T08:01:00Z",
    };
    await send("bob", boost);
    // What must not show: a followers-only reply, a reply put in someone else's mouth, a
    // reply to something that is not an article of ours.
    const hidden = note("mallory", 2, "<p>Nur für Follower</p>", [`${actor("mallory")}/followers`]);
    await create("mallory", hidden);
    const forged = { ...note("mallory", 3, "<p>Gefälscht</p>"), attributedTo: actor("carol") };
    await create("mallory", forged);
    const elsewhere = {
      ...note("mallory", 4, "<p>Woanders</p>"),
      inReplyTo: `${actor("carol")}/statuses/1`,
    };
    await create("mallory", elsewhere);
    // A hidden account's like and reply count for nothing.
    await send("troll", {
      id: `${actor("troll")}#likes/1`,
      type: "Like",
      actor: actor("troll"),
      object: objectId,
    });
    await create("troll", note("troll", 5, "<p>Versteckt</p>"));
    // Carol likes too, then deletes her account.
    await send("carol", {
      id: `${actor("carol")}#likes/1`,
      type: "Like",
      actor: actor("carol"),
      object: objectId,
    });

    const html = await eventually(
      page,
      (text) => expect(text).toContain("1 Antwort · 2 Favoriten · 1 Boost"), // a German story: a German page
    );
    expect(html).toContain("Starker Bericht");
    expect(html).toContain(`href="${new URL("/@alice", remote.origin).href}"`);
    expect(html).toContain(`@alice@${remote.host}`);
    expect(html).toContain(
      '<a href="https://example.test/x" rel="nofollow ugc noopener noreferrer">Quelle</a>',
    );
    for (const bad of [
      "<script>", // the page's one script element is its JSON-LD data
      "alert(",
      "javascript:",
      "onerror",
      "<img src=x",
      "Nur für Follower",
      "Gefälscht",
      "Woanders",
    ]) {
      expect(html).not.toContain(bad);
    }
    expect(await counts()).toEqual({ replies: 1, likes: 2, boosts: 1, quotes: 0 });

    // An edited reply replaces the old text.
    const edited = {
      ...reply,
      content: "<p>Korrigiert: ein starker Bericht.</p>",
      updated: "2026-11-29T09:00:00Z",
    };
    await send("alice", {
      id: `${reply.id}#updates/1`,
      type: "Update",
      actor: actor("alice"),
      object: edited,
      to: reply.to,
    });
    await eventually(page, (text) => {
      expect(text).toContain("Korrigiert: ein starker Bericht.");
      expect(text).not.toContain("Starker Bericht");
    });

    // Only its author can take something back: mallory cannot undo bob's like.
    await send("mallory", {
      id: `${actor("mallory")}#undo/1`,
      type: "Undo",
      actor: actor("mallory"),
      object: like.id,
    });
    await send("bob", {
      id: `${actor("bob")}#undo/2`,
      type: "Undo",
      actor: actor("bob"),
      object: boost,
    });
    await eventually(counts, (value) =>
      expect(value).toEqual({ replies: 1, likes: 2, boosts: 0, quotes: 0 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await counts()).toEqual({ replies: 1, likes: 2, boosts: 0, quotes: 0 });
    await send("bob", {
      id: `${actor("bob")}#undo/1`,
      type: "Undo",
      actor: actor("bob"),
      object: like,
    });
    await eventually(counts, (value) =>
      expect(value).toEqual({ replies: 1, likes: 1, boosts: 0, quotes: 0 }),
    );

    await send("alice", {
      id: `${reply.id}#delete`,
      type: "Delete",
      actor: actor("alice"),
      object: { id: reply.id, type: "Tombstone" },
      to: [PUBLIC_COLLECTION],
    });
    await remote.deleteActor("carol", { inboxes: [inbox] });
    await eventually(counts, (value) =>
      expect(value).toEqual({ replies: 0, likes: 0, boosts: 0, quotes: 0 }),
    );
    const after = await page();
    expect(after).not.toContain("Korrigiert");
    expect(after).not.toContain('class="interactions"');
  });

  it("dates a reply that claims a time to come at its arrival, so it cannot stay first", async () => {
    const remote = await startFakeRemote({ users: ["alice"] });
    onTestFinished(() => remote.close());
    const article = await publishReactedArticle(remote);
    const reply = {
      ...replyNote(remote, "alice", 1, article.objectId, "<p>Aus der Zukunft</p>"),
      published: "2099-01-01T00:00:00Z",
    };
    await article.send(remote, "alice", createOf(remote, "alice", reply));
    const html = await eventually(article.page, (text) =>
      expect(text).toContain("Aus der Zukunft"),
    );
    expect(html).not.toContain("2099");
  });
});
