import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it, onTestFinished } from "vitest";
import { followAll } from "../helpers/cluster.ts";
import { type FakeRemote, type JsonObject, startFakeRemotes } from "../helpers/fake-remote.ts";
import {
  freePort,
  type HeraldFolders,
  heraldFolders,
  startHerald,
} from "../helpers/herald-process.ts";

/** Fan-outs go one delivery at a time, so a kill lands in the middle of one. */
const slowly = { DELIVERY_WORKERS: "1", FEED_LIMIT: "2000" };

async function followers(count: number, actor: URL): Promise<FakeRemote[]> {
  const remotes = await startFakeRemotes(count);
  onTestFinished(async () => {
    await Promise.all(remotes.map((r) => r.close()));
  });
  await followAll(remotes, actor);
  return remotes;
}

async function outboxCount(origin: URL): Promise<number> {
  const response = await fetch(new URL("/users/news/outbox", origin), {
    headers: { Accept: "application/activity+json" },
  });
  return Number(((await response.json()) as { totalItems?: number }).totalItems ?? 0);
}

/**
 * How many articles Herald's database holds, read from the file beside Herald: what its scan has
 * committed so far, whatever its event loop is doing (an HTTP request is answered only between
 * Herald's own work, which may be after the whole scan).
 */
function storedCount(folders: HeraldFolders): number {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(join(folders.data, "herald.sqlite"), { readOnly: true });
    return Number((db.prepare("SELECT count(*) AS n FROM articles").get() as { n: number }).n);
  } catch {
    return 0; // not created yet
  } finally {
    db?.close();
  }
}

/** Polls `progress()` every few milliseconds; resolves with it once it passes `above`. */
async function whenPast(progress: () => number | Promise<number>, above: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await progress();
    if (now > above) return now;
    if (Date.now() > deadline) throw new Error(`progress stayed at ${now}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Per object id: the distinct activity ids of `type` that `remote` received, verified. */
function activitiesByObject(remote: FakeRemote, type: string): Map<string, Set<string>> {
  const byObject = new Map<string, Set<string>>();
  for (const request of remote.received({ type, verified: true })) {
    const activity = request.activity as JsonObject;
    const object = activity.object as JsonObject | string;
    const id = String(typeof object === "string" ? object : object.id);
    const ids = byObject.get(id) ?? new Set();
    ids.add(String(activity.id));
    byObject.set(id, ids);
  }
  return byObject;
}

function start(folders: HeraldFolders, port: number) {
  return startHerald(folders, { port, env: slowly });
}

/** A Herald process with `count` followers; `restart()` starts it again on the same folders and port. */
async function instance(count: number) {
  const folders = heraldFolders();
  const port = await freePort();
  const herald = await start(folders, port);
  const remotes = await followers(count, new URL("/users/news", herald.origin));
  return { folders, herald, remotes, restart: () => start(folders, port) };
}

describe("kill -9 at the worst moments, then a restart", () => {
  it("during a fan-out to 200 followers: every follower gets the Create, each exactly once", async () => {
    const { folders, remotes, restart, ...started } = await instance(200);
    let herald = started.herald;
    const delivered = () => remotes.filter((r) => r.received({ type: "Create" }).length > 0).length;

    writeFileSync(join(folders.articles, "breaking.md"), "# Breaking\n\nNews for everyone.");
    const atKill = await whenPast(delivered, 10);
    await herald.kill();
    expect(atKill).toBeLessThan(200); // the kill landed in the middle of the fan-out

    herald = await restart();
    await expect.poll(delivered, { timeout: 30_000, interval: 100 }).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // nothing more arrives late
    let redelivered = 0;
    for (const remote of remotes) {
      const creates = activitiesByObject(remote, "Create");
      expect(creates.size).toBe(1); // one article…
      expect([...creates.values()][0]?.size).toBe(1); // …announced with one activity id
      redelivered += remote.received({ type: "Create" }).length - 1;
    }
    // A POST in flight at the kill may arrive again (same id, which receivers drop): at
    // most one per delivery worker.
    expect(redelivered).toBeLessThanOrEqual(1);
  }, 180_000);

  it("during a scan of 1,000 new files and the feed rebuild: nothing lost, no event twice", async () => {
    const { folders, remotes, restart, ...started } = await instance(1);
    let herald = started.herald;
    const follower = remotes[0] as FakeRemote;
    const count = 1000;
    for (let i = 0; i < count; i++) {
      writeFileSync(join(folders.articles, `story-${i}.md`), `# Story ${i}\n\nText of story ${i}.`);
    }
    // Killed once the store holds part of the scan (it stores 500 files at a time).
    const atKill = await whenPast(() => storedCount(folders), 0);
    await herald.kill();
    expect(atKill).toBeLessThan(count);

    herald = await restart();
    expect(await outboxCount(herald.origin)).toBe(count);
    const feed = (await (await fetch(new URL("/feed.json", herald.origin))).json()) as {
      items: { title: string }[];
    };
    expect(new Set(feed.items.map((item) => item.title)).size).toBe(count);
    await expect
      .poll(() => activitiesByObject(follower, "Create").size, {
        timeout: 60_000,
        interval: 200,
      })
      .toBe(count);
    for (const ids of activitiesByObject(follower, "Create").values()) {
      expect(ids.size).toBe(1);
    }
  }, 180_000);

  it("during the rebuild after 200 edits: the feeds and followers get every edit, once", async () => {
    const { folders, remotes, restart, ...started } = await instance(1);
    let herald = started.herald;
    const follower = remotes[0] as FakeRemote;
    const count = 200;
    const write = (text: string) => {
      for (let i = 0; i < count; i++) {
        writeFileSync(join(folders.articles, `story-${i}.md`), `# Story ${i}\n\n${text} ${i}.`);
      }
    };
    write("First text of story");
    await expect.poll(() => outboxCount(herald.origin), { timeout: 30_000 }).toBe(count);
    const updates = () => activitiesByObject(follower, "Update").size;

    write("Edited text of story");
    await whenPast(updates, 0);
    await herald.kill();

    herald = await restart();
    const feed = (await (await fetch(new URL("/feed.json", herald.origin))).json()) as {
      items: { content_html: string }[];
    };
    expect(feed.items).toHaveLength(count);
    expect(feed.items.filter((item) => item.content_html.includes("Edited text"))).toHaveLength(
      count,
    );
    const first = await fetch(new URL("/feed.xml", herald.origin));
    const etag = first.headers.get("etag") ?? "";
    const again = await fetch(new URL("/feed.xml", herald.origin), {
      headers: { "If-None-Match": etag },
    });
    expect(again.status).toBe(304);
    await expect.poll(updates, { timeout: 60_000, interval: 200 }).toBe(count);
    for (const ids of activitiesByObject(follower, "Update").values()) {
      expect(ids.size).toBe(1);
    }
  }, 180_000);
});
