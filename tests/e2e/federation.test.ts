import { copyFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { seedPath } from "../helpers/articles.ts";
import { type FakeRemote, type JsonObject, startFakeRemote } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

/** A Mastodon-like follower on loopback, following the real Herald process. */
async function follower(herald: { origin: URL }, users: string[] = ["alice"]) {
  const remote = await startFakeRemote({ users });
  onTestFinished(() => remote.close());
  const { actorUrl } = await remote.lookup(`news@${herald.origin.host}`);
  for (const user of users) {
    await remote.follow(user, actorUrl);
  }
  await remote.waitFor((activity) => activity.type === "Accept", { timeoutMs: 15_000 });
  return { remote, actorUrl };
}

const objectOf = (activity: JsonObject) => activity.object as JsonObject;
const ofType = (remote: FakeRemote, type: string) =>
  remote.received({ type, verified: true }).map((r) => r.activity as JsonObject);

describe("Herald as a fediverse account, end to end", () => {
  it("is found by WebFinger, accepts a follow, and sends Create, Update and Delete as files change", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    const { remote, actorUrl } = await follower(herald);
    expect(actorUrl.href).toBe(new URL("/users/news", herald.origin).href);
    const accept = ofType(remote, "Accept")[0];
    expect(accept?.actor).toBe(actorUrl.href);

    const file = join(folders.articles, "wahl.md");
    writeFileSync(
      file,
      "---\ntitle: Wahl in Weißrussland\nsummary: „Die Wahl“ ist vorbei.\nlanguage: de\n---\nDie Straße war voller Menschen, die „Freiheit“ riefen.",
    );
    const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    const object = objectOf(created.activity as JsonObject);
    expect(object.type).toBe("Article");
    expect(object.name).toBe("Wahl in Weißrussland");
    expect(object.summary).toBe("„Die Wahl“ ist vorbei.");
    expect(object.content).toContain("Die Straße war voller Menschen, die „Freiheit“ riefen.");
    expect(object.url).toBe(new URL("/articles/wahl", herald.origin).href);
    expect(created.signer?.href).toBe(actorUrl.href);

    writeFileSync(file, "---\ntitle: Wahl in Weißrussland\nlanguage: de\n---\nNeuer Text.");
    const updated = await remote.waitFor((a) => a.type === "Update", { timeoutMs: 15_000 });
    const edited = objectOf(updated.activity as JsonObject);
    expect(edited.id).toBe(object.id);
    expect(Date.parse(String(edited.updated))).toBeGreaterThan(
      Date.parse(String(object.published)),
    );

    rmSync(file);
    const deleted = await remote.waitFor((a) => a.type === "Delete", { timeoutMs: 15_000 });
    const tombstone = (deleted.activity as JsonObject).object;
    expect(typeof tombstone === "string" ? tombstone : (tombstone as JsonObject).id).toBe(
      object.id,
    );
    const gone = await fetch(String(object.id), {
      headers: { Accept: "application/activity+json" },
    });
    expect(gone.status).toBe(410);
  });

  it("lists the seed story in the outbox, German text intact, without pushing it", async () => {
    const folders = heraldFolders();
    copyFileSync(seedPath, join(folders.articles, "belarus-nordkorea.txt"));
    const herald = await startHerald(folders);
    const { remote, actorUrl } = await follower(herald);
    const actor = await remote.fetchObject(actorUrl);
    const outbox = await remote.fetchObject(new URL(String(actor.outbox)));
    expect(outbox.totalItems).toBe(1);
    const page = await remote.fetchObject(new URL(String(outbox.first)));
    const items = page.orderedItems as JsonObject[];
    const create = items[0] as JsonObject;
    const article = objectOf(create);
    expect(article.content).toContain("„Dreieckskooperation“");
    expect(article.content).toContain("Weißrussland");
    expect((article.contentMap as JsonObject).de).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(ofType(remote, "Create")).toEqual([]);
  });

  it("sends one delivery per activity to a shared inbox, however many followers sit behind it", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    const { remote } = await follower(herald, ["alice", "bob"]);
    writeFileSync(join(folders.articles, "a.md"), "# Shared\n\nOne delivery for two followers.");
    await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const creates = remote.received({ type: "Create", verified: true });
    expect(creates).toHaveLength(1);
    expect(creates[0]?.path).toBe("/inbox");
  });

  it("stops delivering to a follower who unfollowed", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    const { remote, actorUrl } = await follower(herald);
    await remote.unfollow("alice", actorUrl);
    await eventually(async () => {
      const followers = await remote.fetchObject(new URL("/users/news/followers", herald.origin));
      return followers.totalItems === 0;
    });
    writeFileSync(join(folders.articles, "a.md"), "# After\n\nNobody should get this.");
    await herald.waitForLog(/Queued Create of a/);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(ofType(remote, "Create")).toEqual([]);
  });

  it("keeps its keys and followers across a restart, re-sends nothing, and delivers what changed while it was down", async () => {
    const folders = heraldFolders();
    let herald = await startHerald(folders);
    const { remote, actorUrl } = await follower(herald);
    const keyBefore = ((await remote.fetchObject(actorUrl)).publicKey as JsonObject).publicKeyPem;
    writeFileSync(join(folders.articles, "a.md"), "# First\n\nBefore the restart.");
    await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });

    expect(await herald.stop()).toBe(0);
    writeFileSync(join(folders.articles, "b.md"), "# Second\n\nWritten while Herald was down.");
    herald = await startHerald(folders, { port: herald.port });
    const keyAfter = ((await remote.fetchObject(actorUrl)).publicKey as JsonObject).publicKeyPem;
    expect(keyAfter).toBe(keyBefore);
    const second = await remote.waitFor(
      (a) => a.type === "Create" && objectOf(a).name === "Second",
      { timeoutMs: 15_000 },
    );
    expect(second.verified).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(ofType(remote, "Create").map((a) => objectOf(a).name)).toEqual(["First", "Second"]);
    expect(herald.output()).toContain("Followers: 1.");
  });

  it("sends the images of an article as attachments with their alt text, at absolute URLs", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    const { remote } = await follower(herald);
    writeFileSync(join(folders.articles, "cat.jpg"), "JPEG");
    writeFileSync(
      join(folders.articles, "photo.md"),
      "---\ntitle: Photo\nimage: { src: cover.png, alt: The cover }\n---\nA cat.\n\n![A sleeping cat](cat.jpg)",
    );
    const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    const object = objectOf(created.activity as JsonObject);
    const media = (path: string) => new URL(path, herald.origin).href;
    expect(object.attachment).toEqual([
      {
        type: "Document",
        url: media("/media/cover.png?w=1600"),
        mediaType: "image/png",
        name: "The cover",
      },
      {
        type: "Document",
        url: media("/media/cat.jpg?w=1600"),
        mediaType: "image/jpeg",
        name: "A sleeping cat",
      },
    ]);
    expect(String(object.content)).toContain(`<img src="${media("/media/cat.jpg?w=1600")}"`);
    // Not really a JPEG: the smaller copy cannot be made, and the file is sent as it is.
    expect(await (await fetch(media("/media/cat.jpg?w=1600"))).text()).toBe("JPEG");
  });

  it("sends a Note with the title in its text when POST_TYPE=note", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { POST_TYPE: "note" } });
    const { remote } = await follower(herald);
    writeFileSync(
      join(folders.articles, "n.md"),
      "# Kurz gemeldet\n\nDer ganze Text für Mastodon.",
    );
    const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    const note = objectOf(created.activity as JsonObject);
    expect(note.type).toBe("Note");
    expect(note.content).toContain("Kurz gemeldet");
    expect(note.content).toContain("Der ganze Text für Mastodon.");
  });
});

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("The condition did not come true in time.");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
