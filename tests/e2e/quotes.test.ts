/**
 * Issue #18.2 end to end: quote posts of a story (FEP-044f, as Mastodon 4.5 does them). A
 * Mastodon-like fake (signatures verified both ways) sends a signed `QuoteRequest`; Herald
 * answers by `QUOTE_POLICY` with an `Accept` whose stamp it serves, or a `Reject`; a story
 * taken down revokes its stamps.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { type FakeRemote, type JsonObject, startFakeRemote } from "../helpers/fake-remote.ts";
import { eventually, publishReactedArticle } from "../helpers/interactions.ts";

/** The answer (`Accept` or `Reject`) to the quote request `request`, as `user` received it. */
function answerTo(remote: FakeRemote, user: string, request: URL) {
  return remote.waitFor(
    (a, r) =>
      (a.type === "Accept" || a.type === "Reject") &&
      r.user === user &&
      (a.object as JsonObject | undefined)?.id === request.href,
    { timeoutMs: 15_000 },
  );
}

describe("Quotes of a story (issue #18.2)", () => {
  it("are authorized with a stamp Herald serves, counted, and revoked when the story goes", async () => {
    const remote = await startFakeRemote({ users: ["alice", "bob"], address: "127.0.10.1" });
    onTestFinished(() => remote.close());
    const article = await publishReactedArticle(remote);
    const story = new URL(article.objectId);
    // The post says who may quote it, as Mastodon reads it.
    const post = await remote.fetchObject(story);
    expect(post.interactionPolicy).toEqual({ canQuote: { automaticApproval: "as:Public" } });

    const { request, quotePost, activity } = await remote.requestQuote("bob", story);
    const accept = (await answerTo(remote, "bob", request)).activity as JsonObject;
    expect(accept.type).toBe("Accept");
    expect(accept.actor).toBe(String(post.attributedTo));
    const stamp = new URL(String(accept.result));
    expect(stamp.origin).toBe(article.herald.origin.origin);

    // The stamp, fetched as Mastodon does (signed), names the quote, the story and its author.
    const authorization = await remote.fetchObject(stamp, { signAs: "bob" });
    expect(authorization).toMatchObject({
      id: stamp.href,
      type: "QuoteAuthorization",
      attributedTo: String(post.attributedTo),
      interactingObject: quotePost.href,
      interactionTarget: story.href,
    });

    // Asked again for the same quote post: the same stamp. Delivered again: nothing new.
    const again = await remote.requestQuote("bob", story, quotePost);
    const second = (await answerTo(remote, "bob", again.request)).activity as JsonObject;
    expect(second).toMatchObject({ type: "Accept", result: stamp.href });
    expect((await remote.post("bob", article.inbox, activity)).status).toBeLessThan(300);
    // Counted and shown like a boost, once.
    await eventually(article.counts, (counts) =>
      expect(counts).toEqual({ replies: 0, likes: 0, boosts: 0, quotes: 1 }),
    );
    // The article is in German: "1 Zitat" beside the boosts.
    expect(await article.page()).toContain("0 Boosts · 1 Zitat");

    // The story goes: its stamp with it, and bob's server hears so.
    rmSync(join(article.folders.articles, "wahl.md"));
    const revoked = await remote.waitFor(
      (a, r) => a.type === "Delete" && r.user === "bob" && a.object === stamp.href,
      { timeoutMs: 20_000 },
    );
    expect((revoked.activity as JsonObject).actor).toBe(String(post.attributedTo));
    const gone = await remote.get(stamp, { signAs: "bob" });
    expect([404, 410]).toContain(gone.status);
  });

  it("are refused with QUOTE_POLICY=nobody", async () => {
    const remote = await startFakeRemote({ users: ["alice", "bob"], address: "127.0.10.2" });
    onTestFinished(() => remote.close());
    const article = await publishReactedArticle(remote, { QUOTE_POLICY: "nobody" });
    const story = new URL(article.objectId);
    const post = await remote.fetchObject(story);
    // Only the account itself may quote: Mastodon's way of saying nobody else.
    expect(post.interactionPolicy).toEqual({
      canQuote: { automaticApproval: String(post.attributedTo) },
    });
    const { request } = await remote.requestQuote("alice", story);
    const reject = (await answerTo(remote, "alice", request)).activity as JsonObject;
    expect(reject.type).toBe("Reject");
    expect(reject.result).toBeUndefined();
    expect(await article.counts()).toEqual({ replies: 0, likes: 0, boosts: 0, quotes: 0 });
  });

  it("are authorized for followers only with QUOTE_POLICY=followers", async () => {
    const remote = await startFakeRemote({ users: ["alice", "bob"], address: "127.0.10.3" });
    onTestFinished(() => remote.close());
    // alice follows the account (publishReactedArticle), bob does not.
    const article = await publishReactedArticle(remote, { QUOTE_POLICY: "followers" });
    const story = new URL(article.objectId);
    const post = await remote.fetchObject(story);
    const followers = (await remote.fetchObject(new URL(String(post.attributedTo)))).followers;
    expect(post.interactionPolicy).toEqual({
      canQuote: { automaticApproval: String(followers) },
    });
    const byBob = await remote.requestQuote("bob", story);
    expect((await answerTo(remote, "bob", byBob.request)).type).toBe("Reject");
    const byAlice = await remote.requestQuote("alice", story);
    const accept = await answerTo(remote, "alice", byAlice.request);
    expect(accept.type).toBe("Accept");
    const stamp = new URL(String((accept.activity as JsonObject).result));
    const authorization = await remote.fetchObject(stamp, { signAs: "alice" });
    expect(authorization.interactingObject).toBe(byAlice.quotePost.href);
    await eventually(article.counts, (counts) =>
      expect(counts).toEqual({ replies: 0, likes: 0, boosts: 0, quotes: 1 }),
    );
  });
});
