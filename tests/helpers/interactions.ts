/**
 * For end-to-end tests of replies, likes and boosts: a running Herald with one published
 * article that fake remote servers react to, and ways to see what its page and feed show.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { AS_CONTEXT, type FakeRemote, type JsonObject, PUBLIC_COLLECTION } from "./fake-remote.ts";
import {
  type HeraldFolders,
  type HeraldProcess,
  heraldFolders,
  startHerald,
} from "./herald-process.ts";

/** Polls `read` until `check` passes (it throws while it does not), for up to `timeoutMs`. */
export async function eventually<T>(
  read: () => T | Promise<T>,
  check: (value: T) => void,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    try {
      check(value);
      return value;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export interface ReactedArticle {
  readonly herald: HeraldProcess;
  /** Its folders, for commands run beside it (`npm run replies`). */
  readonly folders: HeraldFolders;
  /** The article's ActivityPub id, what replies answer and likes name. */
  readonly objectId: string;
  /** Its web page. */
  readonly articleUrl: URL;
  /** Where the remotes post: Herald's shared inbox. */
  readonly inbox: URL;
  /** The article page's HTML. */
  page(): Promise<string>;
  /** Its replies, likes and boosts as the JSON Feed counts them. */
  counts(): Promise<unknown>;
  /** POSTs `activity` signed as `user` of `remote`; expects a 2xx answer. */
  send(remote: FakeRemote, user: string, activity: JsonObject): Promise<void>;
}

/**
 * Starts Herald, has `remote`'s first user follow it, publishes one article and waits for
 * its `Create` to arrive, so that the article's object id is known. Replies show at once
 * (`REPLIES=auto`) unless `env` says otherwise: most tests are about what a page shows.
 */
export async function publishReactedArticle(
  remote: FakeRemote,
  env: Record<string, string> = {},
): Promise<ReactedArticle> {
  const folders = heraldFolders();
  const herald = await startHerald(folders, { env: { REPLIES: "auto", ...env } });
  const { actorUrl, sharedInbox } = await remote.lookup(`news@${herald.origin.host}`);
  const inbox = sharedInbox ?? new URL("/inbox", herald.origin);
  await remote.follow(remote.users[0] ?? "alice", actorUrl);
  await remote.waitFor((a) => a.type === "Accept", { timeoutMs: 15_000 });
  writeFileSync(
    join(folders.articles, "wahl.md"),
    "---\ntitle: Wahl in Weißrussland\nlanguage: de\n---\nDie Straße war voller Menschen.",
  );
  const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
  const article = (created.activity as JsonObject).object as JsonObject;
  const feedUrl = new URL("/feed.json", herald.origin);
  const articleUrl = new URL(String(article.url));
  const objectId = String(article.id);
  return {
    herald,
    folders,
    objectId,
    articleUrl,
    inbox,
    page: async () => (await fetch(articleUrl)).text(),
    async counts() {
      const feed = (await (await fetch(feedUrl)).json()) as { items: JsonObject[] };
      return feed.items.find((item) => item.id === objectId)?._herald;
    },
    async send(from, user, activity) {
      const result = await from.post(user, inbox, { "@context": AS_CONTEXT, ...activity });
      expect(result.status, JSON.stringify(activity)).toBeLessThan(300);
    },
  };
}

/** A public reply note by `user` of `remote` to the article `inReplyTo`. */
export function replyNote(
  remote: FakeRemote,
  user: string,
  n: number,
  inReplyTo: string,
  content: string,
  to: readonly string[] = [PUBLIC_COLLECTION],
) {
  const actor = remote.actorUrl(user).href;
  return {
    id: `${actor}/statuses/${n}`,
    type: "Note",
    attributedTo: actor,
    inReplyTo,
    content,
    url: new URL(`/@${user}/${n}`, remote.origin).href,
    published: "2026-11-29T08:00:00Z",
    to,
    cc: [`${actor}/followers`],
  };
}

/** `Create` of `note` by `user`, the way Mastodon wraps a reply. */
export function createOf(remote: FakeRemote, user: string, note: ReturnType<typeof replyNote>) {
  return {
    id: `${note.id}/activity`,
    type: "Create",
    actor: remote.actorUrl(user).href,
    object: note,
    to: note.to,
  };
}
