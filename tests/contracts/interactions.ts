/**
 * The contract every `InteractionStore` meets; each engine's test runs it.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type {
  Interaction,
  InteractionStore,
  InteractionStoreOptions,
} from "../../src/federation/interactions/store.ts";

/** Opens a store on one engine's fresh data; several calls of `store()` share that data. */
export type OpenInteractions = () => Promise<{
  store: (options?: InteractionStoreOptions) => Promise<InteractionStore>;
  close: () => Promise<void>;
}>;

const alice = { id: "https://a.test/users/alice", name: "Alice", handle: "@alice@a.test" };
const eve = { id: "https://a.test/users/eve", handle: "@eve@a.test" };
const bob = { id: "https://b.test/users/bob" };
const reply = (n: number, published = "2026-11-29T08:00:00.000Z"): Interaction => ({
  kind: "reply",
  id: `${alice.id}/statuses/${n}`,
  actor: alice,
  contentHtml: `<p>Reply ${n}</p>`,
  published,
});
const replyBy = (actor: { id: string }, n: number): Interaction => ({
  ...reply(n),
  id: `${actor.id}/statuses/${n}`,
  actor,
});
const like = (actor: { id: string }, n: number): Interaction => ({
  kind: "like",
  id: `${actor.id}#likes/${n}`,
  actor,
  published: "2026-11-29T09:00:00.000Z",
});
const none = { replies: 0, likes: 0, boosts: 0, quotes: 0 };
/** A quote post of `actor`'s, as `interactions/quotes.ts` keeps it (with the quoting inbox). */
const quote = (actor: { id: string }, n: number): Interaction => ({
  kind: "quote",
  id: `${actor.id}/statuses/q${n}`,
  actor,
  url: `${actor.id}/statuses/q${n}`,
  published: "2026-11-29T09:30:00.000Z",
  inbox: `${actor.id}/inbox`,
});

export function interactionStoreContract(name: string, open: OpenInteractions): void {
  describe(`InteractionStore contract: ${name}`, () => {
    let opened: Awaited<ReturnType<OpenInteractions>>;
    let store: InteractionStore;
    beforeEach(async (context) => {
      opened = await open();
      store = await opened.store();
      context.onTestFinished(opened.close);
    });

    it("lists an article's interactions oldest first and counts them by kind", async () => {
      await store.add("a1", reply(2, "2026-11-29T10:00:00.000Z"));
      await store.add("a1", reply(1, "2026-11-29T07:00:00.000Z"));
      await store.add("a1", like(bob, 1));
      await store.add("a2", like(alice, 1));
      expect((await store.list("a1")).map((i) => i.id)).toEqual([
        reply(1).id,
        like(bob, 1).id,
        reply(2).id,
      ]);
      expect(await store.list("a1")).toContainEqual(reply(2, "2026-11-29T10:00:00.000Z"));
      expect(await store.counts("a1")).toEqual({ replies: 2, likes: 1, boosts: 0, quotes: 0 });
      expect(await store.counts("a2")).toEqual({ replies: 0, likes: 1, boosts: 0, quotes: 0 });
      expect(await store.counts("none")).toEqual(none);
    });

    it("lists one page of an article's replies, newest first", async () => {
      for (const n of [1, 2, 3, 4, 5]) {
        await store.add("a1", reply(n, `2026-11-29T0${n}:00:00.000Z`));
      }
      await store.add("a1", like(bob, 1));
      await store.add("a2", reply(9));
      const page = async (offset: number) =>
        (await store.listReplies("a1", { limit: 2, offset })).map((i) => i.id);
      expect(await page(0)).toEqual([reply(5).id, reply(4).id]);
      expect(await page(2)).toEqual([reply(3).id, reply(2).id]);
      expect(await page(4)).toEqual([reply(1).id]);
      expect(await page(6)).toEqual([]);
      expect(await store.listReplies("a1", { limit: 1 })).toEqual([
        reply(5, "2026-11-29T05:00:00.000Z"),
      ]);
    });

    it("counts an actor's like once, and its author's reply again replaces the old one", async () => {
      expect(await store.add("a1", like(bob, 1))).toBe("stored");
      expect(await store.add("a1", like(bob, 2))).toBe("stored");
      await store.add("a1", reply(1));
      expect(await store.add("a1", { ...reply(1), contentHtml: "<p>Again</p>" })).toBe("stored");
      expect(await store.counts("a1")).toEqual({ replies: 1, likes: 1, boosts: 0, quotes: 0 });
      expect(await store.edit("a1", { ...reply(1), contentHtml: "<p>Edited</p>" })).toBe(true);
      expect((await store.listReplies("a1", { limit: 5 }))[0]?.contentHtml).toBe("<p>Edited</p>");
      // An edit of a reply never stored stores nothing.
      expect(await store.edit("a1", reply(2))).toBe(false);
      // The replaced like's id no longer removes anything; the newer one does.
      expect(await store.remove(like(bob, 1).id, bob.id)).toBe(false);
      expect(await store.remove(like(bob, 2).id, bob.id)).toBe(true);
      expect(await store.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0, quotes: 0 });
    });

    it("keeps a quote (with its inbox) once per redelivery, counts it like a boost, and caps it", async () => {
      expect(await store.add("a1", quote(bob, 1))).toBe("stored");
      expect(await store.add("a1", quote(bob, 1))).toBe("stored");
      expect(await store.add("a1", quote(alice, 1))).toBe("stored");
      expect(await store.counts("a1")).toEqual({ ...none, quotes: 2 });
      expect(await store.list("a1")).toContainEqual(quote(bob, 1));
      // Someone else's quote post is not theirs to claim; a Delete of it by its author removes it.
      expect(await store.add("a1", { ...quote(bob, 1), actor: eve })).toBe("taken");
      expect(await store.remove(quote(bob, 1).id, bob.id)).toBe(true);
      expect(await store.counts("a1")).toEqual({ ...none, quotes: 1 });
      // Capped with every other interaction of the article.
      const small = await opened.store({ maxPerArticle: 1 });
      expect(await small.add("a1", quote(eve, 1))).toBe("article-full");
    });

    it("lets only its author take an interaction back", async () => {
      await store.add("a1", reply(1));
      expect(await store.remove(reply(1).id, bob.id)).toBe(false);
      expect(await store.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0, quotes: 0 });
      expect(await store.remove(reply(1).id, alice.id)).toBe(true);
      expect(await store.remove(reply(1).id, alice.id)).toBe(false);
      expect(await store.list("a1")).toEqual([]);
      expect(await store.counts("a1")).toEqual(none);
    });

    it("keeps an id its first author's: another's like, reply or edit with it changes nothing", async () => {
      await store.add("a1", reply(1));
      const squat = { ...like(eve, 1), id: reply(1).id };
      expect(await store.add("a1", squat)).toBe("taken");
      expect(await store.add("a1", { ...reply(1), actor: eve })).toBe("taken");
      expect(await store.edit("a1", { ...reply(1), actor: eve, contentHtml: "<p>Mine</p>" })).toBe(
        false,
      );
      // Not even its author moves it to another article or kind.
      expect(await store.add("a2", reply(1))).toBe("taken");
      expect(await store.add("a1", { ...like(alice, 1), id: reply(1).id })).toBe("taken");
      expect(await store.list("a1")).toEqual([reply(1)]);
      expect(await store.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0, quotes: 0 });
      expect(await store.counts("a2")).toEqual(none);
      expect(await store.remove(reply(1).id, eve.id)).toBe(false);
      expect(await store.remove(reply(1).id, alice.id)).toBe(true);
    });

    it("removes everything of a deleted account, and nothing of others", async () => {
      await store.add("a1", reply(1));
      await store.add("a1", like(alice, 1));
      await store.add("a2", like(alice, 2));
      await store.add("a2", like(bob, 1));
      expect(await store.removeActor(alice.id)).toBe(3);
      expect(await store.counts("a1")).toEqual(none);
      expect(await store.counts("a2")).toEqual({ replies: 0, likes: 1, boosts: 0, quotes: 0 });
      expect(await store.removeActor(alice.id)).toBe(0);
    });

    it("keeps at most so many interactions per article, while edits and other articles go on", async () => {
      store = await opened.store({ maxPerArticle: 2 });
      expect(await store.add("a1", reply(1))).toBe("stored");
      expect(await store.add("a1", like(bob, 1))).toBe("stored");
      expect(await store.add("a1", reply(2))).toBe("article-full");
      expect(await store.add("a1", like(eve, 1))).toBe("article-full");
      expect(await store.add("a1", like(bob, 2))).toBe("stored");
      expect(await store.edit("a1", { ...reply(1), contentHtml: "<p>Edited</p>" })).toBe(true);
      expect(await store.add("a2", reply(2))).toBe("stored");
      expect(await store.counts("a1")).toEqual({ replies: 1, likes: 1, boosts: 0, quotes: 0 });
      // Room again once one is taken back.
      await store.remove(reply(1).id, alice.id);
      expect(await store.add("a1", reply(3))).toBe("stored");
    });

    it("keeps so many replies per actor and article, and so many a day per server", async () => {
      let now = new Date("2026-11-29T23:00:00.000Z");
      store = await opened.store({
        maxRepliesPerActor: 2,
        maxRepliesPerServerPerDay: 3,
        now: () => now,
      });
      expect(await store.add("a1", reply(1))).toBe("stored");
      expect(await store.add("a1", reply(2))).toBe("stored");
      expect(await store.add("a1", reply(3))).toBe("actor-limit");
      expect(await store.add("a2", reply(4))).toBe("stored");
      // eve is on alice's server (a.test): its budget for the day is spent.
      expect(await store.add("a1", replyBy(eve, 1))).toBe("server-limit");
      expect(await store.add("a1", replyBy(bob, 1))).toBe("stored");
      // Edits and likes are not new replies.
      expect(await store.add("a1", { ...reply(1), contentHtml: "<p>Again</p>" })).toBe("stored");
      expect(await store.add("a1", like(eve, 1))).toBe("stored");
      now = new Date("2026-11-30T01:00:00.000Z");
      expect(await store.add("a1", replyBy(eve, 1))).toBe("stored");
      expect(await store.add("a1", reply(3))).toBe("actor-limit");
      expect(await store.counts("a1")).toEqual({ replies: 4, likes: 1, boosts: 0, quotes: 0 });
    });

    it("neither keeps nor lists nor counts what hidden accounts and servers send, also what came before", async () => {
      const carol = { id: "https://c.test/users/carol", handle: "@Carol@c.test" };
      const dave = { id: "https://sub.d.test/users/dave" };
      await store.add("a1", like(carol, 1));
      await store.add("a1", replyBy(carol, 1));
      const hiding = await opened.store({
        hide: [{ user: "carol", host: "C.test" }, { domain: "d.test" }, { actor: bob.id }],
      });
      expect(await hiding.add("a1", like(bob, 1))).toBe("hidden");
      expect(await hiding.add("a1", like(dave, 1))).toBe("hidden");
      expect(await hiding.add("a1", reply(1))).toBe("stored");
      expect(await hiding.counts("a1")).toEqual({ replies: 1, likes: 0, boosts: 0, quotes: 0 });
      expect((await hiding.list("a1")).map((i) => i.actor.id)).toEqual([alice.id]);
      expect((await hiding.listReplies("a1", { limit: 5 })).map((i) => i.actor.id)).toEqual([
        alice.id,
      ]);
      // Unhidden, what was kept before shows again.
      expect(await (await opened.store()).counts("a1")).toEqual({
        replies: 2,
        likes: 1,
        boosts: 0,
        quotes: 0,
      });
    });

    it("moves its change time forward on every change, for the caches of pages and feeds", async () => {
      expect((await store.changedAt()).getTime()).toBe(0);
      await store.add("a1", reply(1));
      const first = await store.changedAt();
      expect(first.getTime()).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.remove(reply(1).id, alice.id);
      expect((await store.changedAt()).getTime()).toBeGreaterThan(first.getTime());
    });

    it("holds a new reply for review: kept, neither listed nor counted until approved", async () => {
      const review = await opened.store({ replies: "review" });
      expect(await review.add("a1", reply(1, "2026-11-29T07:00:00.000Z"))).toBe("held");
      expect(await review.add("a2", reply(2, "2026-11-29T08:00:00.000Z"))).toBe("held");
      expect(await review.add("a1", like(bob, 1))).toBe("stored");
      expect(await review.counts("a1")).toEqual({ replies: 0, likes: 1, boosts: 0, quotes: 0 });
      expect((await review.list("a1")).map((i) => i.id)).toEqual([like(bob, 1).id]);
      expect(await review.listReplies("a1", { limit: 5 })).toEqual([]);
      // Any process sees the queue, whatever its own mode.
      expect(await store.countHeld()).toBe(2);
      expect(await store.held()).toEqual([
        { articleId: "a2", reply: reply(2, "2026-11-29T08:00:00.000Z") },
        { articleId: "a1", reply: reply(1, "2026-11-29T07:00:00.000Z") },
      ]);
      expect((await store.held("a1")).map((h) => h.reply.id)).toEqual([reply(1).id]);
      // A redelivery stays held.
      expect(await review.add("a1", reply(1, "2026-11-29T07:00:00.000Z"))).toBe("held");
      const before = await store.changedAt();
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await store.approve(reply(1).id)).toBe(true);
      expect(await store.approve(reply(1).id)).toBe(false);
      expect(await store.approve(like(bob, 1).id)).toBe(false);
      expect((await (await opened.store()).changedAt()).getTime()).toBeGreaterThan(
        before.getTime(),
      );
      expect(await review.counts("a1")).toEqual({ replies: 1, likes: 1, boosts: 0, quotes: 0 });
      expect((await review.listReplies("a1", { limit: 5 })).map((i) => i.id)).toEqual([
        reply(1).id,
      ]);
      expect(await store.countHeld()).toBe(1);
    });

    it("rejects (deletes) a held or a shown reply, and nothing that is not a reply", async () => {
      const review = await opened.store({ replies: "review", trust: "none" });
      expect(await store.add("a1", replyBy(bob, 1))).toBe("stored");
      expect(await review.add("a1", reply(1))).toBe("held");
      expect(await review.add("a1", like(bob, 1))).toBe("stored");
      expect(await store.reject(reply(1).id)).toBe(true);
      expect(await store.reject(reply(1).id)).toBe(false);
      expect(await store.reject(like(bob, 1).id)).toBe(false);
      expect(await store.held()).toEqual([]);
      expect(await store.counts("a1")).toEqual({ replies: 1, likes: 1, boosts: 0, quotes: 0 });
      expect(await store.reject(replyBy(bob, 1).id)).toBe(true);
      expect(await store.counts("a1")).toEqual({ replies: 0, likes: 1, boosts: 0, quotes: 0 });
      // Gone for good: its author may send it again, and it is reviewed again.
      expect(await review.add("a1", reply(1))).toBe("held");
    });

    it("trusts an author with an approved reply (REPLIES_TRUST=approved), and nobody with none", async () => {
      const review = await opened.store({ replies: "review" });
      expect(await review.add("a1", reply(1))).toBe("held");
      expect(await review.add("a1", reply(2))).toBe("held");
      expect(await store.approve(reply(1).id)).toBe(true);
      expect(await review.add("a2", reply(3))).toBe("stored");
      expect(await review.add("a1", replyBy(bob, 1))).toBe("held");
      // An edit by a trusted author stays shown; untrusted, new text is reviewed again.
      expect(await review.edit("a2", { ...reply(3), contentHtml: "<p>Edited</p>" })).toBe(true);
      expect(await review.counts("a2")).toEqual({ replies: 1, likes: 0, boosts: 0, quotes: 0 });
      const strict = await opened.store({ replies: "review", trust: "none" });
      expect(await strict.add("a2", reply(4))).toBe("held");
      expect(await strict.edit("a2", { ...reply(3), contentHtml: "<p>Spam</p>" })).toBe(true);
      expect(await strict.counts("a2")).toEqual({ replies: 0, likes: 0, boosts: 0, quotes: 0 });
      expect((await store.held("a2")).map((h) => h.reply.contentHtml).sort()).toEqual([
        "<p>Reply 4</p>",
        "<p>Spam</p>",
      ]);
      // Its author's Delete takes a held reply back too.
      expect(await store.remove(reply(4).id, alice.id)).toBe(true);
      // Left: alice's second reply and bob's (a1), and the edited one (a2).
      expect(await store.countHeld()).toBe(3);
    });

    it("counts held replies against every limit, so a flood of held spam stays bounded", async () => {
      const review = await opened.store({
        replies: "review",
        trust: "none",
        maxPerArticle: 4,
        maxRepliesPerActor: 2,
        maxRepliesPerServerPerDay: 3,
      });
      expect(await review.add("a1", reply(1))).toBe("held");
      expect(await review.add("a1", reply(2))).toBe("held");
      expect(await review.add("a1", reply(3))).toBe("actor-limit");
      expect(await review.add("a1", replyBy(eve, 1))).toBe("held");
      expect(await review.add("a1", replyBy(eve, 2))).toBe("server-limit");
      expect(await review.add("a1", replyBy(bob, 1))).toBe("held");
      expect(await review.add("a1", like(bob, 1))).toBe("article-full");
      expect(await store.countHeld()).toBe(4);
      expect(await store.counts("a1")).toEqual(none);
    });

    it("keeps no reply with REPLIES=off, and still counts likes", async () => {
      const off = await opened.store({ replies: "off" });
      expect(await off.add("a1", reply(1))).toBe("replies-off");
      expect(await off.add("a1", like(bob, 1))).toBe("stored");
      expect(await off.counts("a1")).toEqual({ replies: 0, likes: 1, boosts: 0, quotes: 0 });
      expect(await off.held()).toEqual([]);
    });

    it("stores a reply as fast with thousands stored as with none", async () => {
      store = await opened.store({ maxRepliesPerServerPerDay: 10_000 });
      const content = `<p>${"Lorem ipsum dolor sit amet. ".repeat(150)}</p>`;
      const actors = Array.from({ length: 100 }, (_, n) => ({ id: `https://s.test/users/u${n}` }));
      const timeOf = async (from: number, count: number) => {
        const start = performance.now();
        for (let n = from; n < from + count; n++) {
          const actor = actors[n % actors.length] ?? bob;
          await store.add("a1", { ...replyBy(actor, n), contentHtml: content });
        }
        return performance.now() - start;
      };
      const first = await timeOf(0, 150);
      await timeOf(150, 700);
      const last = await timeOf(850, 150);
      expect((await store.counts("a1")).replies).toBe(1000);
      // Re-reading what is stored would make the last ones ~6 times slower; allow for a busy machine.
      expect(last).toBeLessThan(first * 3 + 200);
    }, 60_000);
  });
}
