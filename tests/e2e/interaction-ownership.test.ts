import { describe, expect, it, onTestFinished } from "vitest";
import { type FakeRemote, PUBLIC_COLLECTION, startFakeRemotes } from "../helpers/fake-remote.ts";
import { createOf, eventually, publishReactedArticle, replyNote } from "../helpers/interactions.ts";

/** Two servers: alice's, where eve has an account too, and mallory's. */
async function twoServers(): Promise<[FakeRemote, FakeRemote]> {
  const [home, other] = await startFakeRemotes(2, { users: ["alice", "eve"] });
  if (home === undefined || other === undefined) throw new Error("no remotes");
  onTestFinished(async () => {
    await Promise.all([home.close(), other.close()]);
  });
  return [home, other];
}

/** Waits until the inbox has handled what was sent before: a like by `user` shows. */
async function settle(
  article: Awaited<ReturnType<typeof publishReactedArticle>>,
  remote: FakeRemote,
  user: string,
  likes: number,
) {
  await article.send(remote, user, {
    id: `${remote.actorUrl(user).href}#likes/settle`,
    type: "Like",
    actor: remote.actorUrl(user).href,
    object: article.objectId,
  });
  await eventually(article.counts, (value) => expect(value).toMatchObject({ likes }));
  // Activities are handled in parallel: give the earlier ones a moment more.
  await new Promise((resolve) => setTimeout(resolve, 500));
}

describe("Interactions are their authors' only", () => {
  it("a Like squatting a reply's id from another server neither counts nor keeps the author from deleting it", async () => {
    const [home, other] = await twoServers();
    const article = await publishReactedArticle(home);
    const reply = replyNote(home, "alice", 1, article.objectId, "<p>Meine Antwort</p>");
    await article.send(home, "alice", createOf(home, "alice", reply));
    await eventually(article.page, (html) => expect(html).toContain("Meine Antwort"));

    // Mallory, on another server, names his Like with alice's note id.
    await article.send(other, "alice", {
      id: reply.id,
      type: "Like",
      actor: other.actorUrl("alice").href,
      object: article.objectId,
    });
    await settle(article, other, "eve", 1);
    expect(await article.counts()).toEqual({ replies: 1, likes: 1, boosts: 0, quotes: 0 });

    await article.send(home, "alice", {
      id: `${reply.id}#delete`,
      type: "Delete",
      actor: home.actorUrl("alice").href,
      object: { id: reply.id, type: "Tombstone" },
      to: [PUBLIC_COLLECTION],
    });
    await eventually(article.counts, (value) => expect(value).toMatchObject({ replies: 0 }));
    expect(await article.page()).not.toContain("Meine Antwort");
  });

  it("a Delete sent first under the author's predictable id does not swallow the author's own", async () => {
    const [home, other] = await twoServers();
    const article = await publishReactedArticle(home);
    const reply = replyNote(home, "alice", 1, article.objectId, "<p>Meine Antwort</p>");
    await article.send(home, "alice", createOf(home, "alice", reply));
    await eventually(article.page, (html) => expect(html).toContain("Meine Antwort"));

    const deletion = {
      id: `${reply.id}#delete`,
      type: "Delete",
      object: { id: reply.id, type: "Tombstone" },
      to: [PUBLIC_COLLECTION],
    };
    // From another server, and from another account of alice's own.
    await article.send(other, "eve", { ...deletion, actor: other.actorUrl("eve").href });
    await article.send(home, "eve", { ...deletion, actor: home.actorUrl("eve").href });
    await settle(article, other, "eve", 1);
    expect(await article.counts()).toMatchObject({ replies: 1 });

    await article.send(home, "alice", { ...deletion, actor: home.actorUrl("alice").href });
    await eventually(article.counts, (value) => expect(value).toMatchObject({ replies: 0 }));
    expect(await article.page()).not.toContain("Meine Antwort");
  });

  it("another account of the same server can neither take over a reply by Create nor by Update", async () => {
    const [home] = await twoServers();
    const article = await publishReactedArticle(home);
    const reply = replyNote(home, "alice", 1, article.objectId, "<p>Meine Antwort</p>");
    await article.send(home, "alice", createOf(home, "alice", reply));
    await eventually(article.page, (html) => expect(html).toContain("Meine Antwort"));
    const eve = home.actorUrl("eve").href;
    const hijacked = { ...reply, attributedTo: eve, content: "<p>Gekapert</p>" };

    await article.send(home, "eve", {
      id: `${eve}/statuses/1/activity`,
      type: "Create",
      actor: eve,
      object: hijacked,
      to: reply.to,
    });
    await settle(article, home, "eve", 1);
    await article.send(home, "eve", {
      id: `${eve}#updates/1`,
      type: "Update",
      actor: eve,
      object: { ...hijacked, updated: "2026-11-29T09:00:00Z" },
      to: reply.to,
    });
    await settle(article, home, "alice", 2);

    const html = await article.page();
    expect(html).toContain("Meine Antwort");
    expect(html).not.toContain("Gekapert");
    expect(html).toContain(`@alice@${home.host}`);
    expect(await article.counts()).toEqual({ replies: 1, likes: 2, boosts: 0, quotes: 0 });
  });
});
