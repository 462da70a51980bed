/**
 * Section accounts end to end (issue #18.3): a real Herald process with `SECTIONS`, and
 * Mastodon-like servers (signatures verified) following the main account and a section.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { type FakeRemote, type JsonObject, startFakeRemote } from "../helpers/fake-remote.ts";
import { type HeraldProcess, heraldFolders, startHerald } from "../helpers/herald-process.ts";
import { instanceBackends } from "../helpers/postgres.ts";

const SECTIONS = "politik: Politik, tags politik, wahl; wirtschaft: Wirtschaft";

async function remoteAt(address: string): Promise<FakeRemote> {
  const remote = await startFakeRemote({ users: ["alice"], address });
  onTestFinished(() => remote.close());
  return remote;
}

/** `alice` on `remote` follows `username` on Herald, and waits for its Accept. */
async function follow(remote: FakeRemote, herald: HeraldProcess, username: string): Promise<URL> {
  const { actorUrl } = await remote.lookup(`${username}@${herald.origin.host}`);
  await remote.follow("alice", actorUrl);
  await remote.waitFor((a) => a.type === "Accept" && a.actor === actorUrl.href, {
    timeoutMs: 15_000,
  });
  return actorUrl;
}

const ofType = (remote: FakeRemote, type: string) =>
  remote.received({ type, verified: true }).map((r) => r.activity as JsonObject);
const idOf = (value: unknown) =>
  typeof value === "string" ? value : String((value as JsonObject | undefined)?.id);
const settle = () => new Promise((resolve) => setTimeout(resolve, 2500));

describe("section accounts, end to end", () => {
  it.each(instanceBackends)(
    "boost the stories carrying their tags, take the boosts back, and send nothing twice across a restart ($name)",
    async (backend) => {
      const folders = heraldFolders();
      const env = { SECTIONS, ...(await backend.env()) };
      let herald = await startHerald(folders, { env });
      // One server follows the section only, the other the section and the main account.
      const sectionOnly = await remoteAt("127.0.20.1");
      const both = await remoteAt("127.0.20.2");
      const politik = await follow(sectionOnly, herald, "politik");
      expect(politik.href).toBe(new URL("/users/politik", herald.origin).href);
      const news = await follow(both, herald, "news");
      await follow(both, herald, "politik");

      const actor = await sectionOnly.fetchObject(politik);
      expect(actor.preferredUsername).toBe("politik");
      expect(actor.webfinger).toBe(`politik@${herald.origin.host}`);
      expect(String(actor.name)).toContain("Politik");
      const mainKey = ((await both.fetchObject(news)).publicKey as JsonObject).publicKeyPem;
      expect((actor.publicKey as JsonObject).publicKeyPem).not.toBe(mainKey);
      const followers = await sectionOnly.fetchObject(new URL(String(actor.followers)));
      expect(followers.totalItems).toBe(2);

      const file = join(folders.articles, "wahl.md");
      writeFileSync(file, "---\ntitle: Die Wahl\ntags: [Wahl]\n---\nGewählt wird im Mai.");
      const boost = await sectionOnly.waitFor((a) => a.type === "Announce", { timeoutMs: 15_000 });
      expect(boost.signer?.href).toBe(politik.href);
      const announce = boost.activity as JsonObject;
      expect(announce.actor).toBe(politik.href);
      const create = await both.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
      const postId = idOf((create.activity as JsonObject).object);
      expect(idOf(announce.object)).toBe(postId);
      await both.waitFor((a) => a.type === "Announce" && idOf(a.object) === postId, {
        timeoutMs: 15_000,
      });
      // An untagged story goes to the main account's followers only.
      writeFileSync(join(folders.articles, "other.md"), "# Wetter\n\nSonne.");
      await both.waitFor((a) => a.type === "Create" && idOf(a.object) !== postId, {
        timeoutMs: 15_000,
      });

      // An edit keeping the tag: the main Update, no new boost.
      writeFileSync(file, "---\ntitle: Die Wahl\ntags: [Wahl]\n---\nGewählt wird im Juni.");
      await both.waitFor((a) => a.type === "Update", { timeoutMs: 15_000 });
      // The tag removed: the boost is taken back.
      writeFileSync(file, "---\ntitle: Die Wahl\ntags: [Termine]\n---\nGewählt wird im Juni.");
      const undo = await sectionOnly.waitFor((a) => a.type === "Undo", { timeoutMs: 15_000 });
      expect(idOf((undo.activity as JsonObject).object)).toBe(announce.id);
      // The tag back: a new boost.
      writeFileSync(file, "---\ntitle: Die Wahl\ntags: [Politik]\n---\nGewählt wird im Juni.");
      const again = await sectionOnly.waitFor(
        (a) => a.type === "Announce" && a.id !== announce.id,
        {
          timeoutMs: 15_000,
        },
      );
      // Deleted: the main Delete, and the section's boost undone.
      rmSync(file);
      await both.waitFor((a) => a.type === "Delete", { timeoutMs: 15_000 });
      await sectionOnly.waitFor(
        (a) => a.type === "Undo" && idOf(a.object) === (again.activity as JsonObject).id,
        { timeoutMs: 15_000 },
      );
      await settle();

      const counts = () => ({
        sectionOnly: ["Create", "Update", "Delete", "Announce", "Undo"].map(
          (t) => ofType(sectionOnly, t).length,
        ),
        both: ["Create", "Update", "Delete", "Announce", "Undo"].map((t) => ofType(both, t).length),
      });
      expect(counts()).toEqual({ sectionOnly: [0, 0, 0, 2, 2], both: [2, 3, 1, 2, 2] });

      expect(await herald.stop()).toBe(0);
      herald = await startHerald(folders, { port: herald.port, env });
      await herald.waitForLog(/Published: 1 articles/);
      await settle();
      expect(counts()).toEqual({ sectionOnly: [0, 0, 0, 2, 2], both: [2, 3, 1, 2, 2] });
    },
  );

  it("have a page with a follow box and feeds, advertised for autodiscovery", async () => {
    const folders = heraldFolders();
    writeFileSync(
      join(folders.articles, "wahl.md"),
      "---\ntitle: Die Wahl\ntags: [wahl]\n---\nGewählt wird im Mai.",
    );
    writeFileSync(join(folders.articles, "wetter.md"), "# Wetter\n\nSonne.");
    const herald = await startHerald(folders, { env: { SECTIONS } });
    await herald.waitForLog(/Published: 2 articles/);
    const url = (path: string) => new URL(path, herald.origin);

    const home = await (await fetch(url("/"))).text();
    expect(home).toContain(`<a href="${url("/sections/politik").href}">Politik</a>`);
    expect(home).toContain(`<a href="${url("/sections/wirtschaft").href}">Wirtschaft</a>`);

    const page = await fetch(url("/sections/politik"));
    expect(page.status).toBe(200);
    const body = await page.text();
    expect(body).toContain("<h1>Politik</h1>");
    expect(body).toContain(`@politik@${herald.origin.host}`);
    expect(body).toContain('<input type="hidden" name="section" value="politik">');
    for (const [type, path] of [
      ["application/rss+xml", "/sections/politik/feed.xml"],
      ["application/atom+xml", "/sections/politik/atom.xml"],
      ["application/feed+json", "/sections/politik/feed.json"],
    ]) {
      const link = body.match(
        new RegExp(`<link rel="alternate" type="${type?.replace("+", "\\+")}"[^>]*>`),
      );
      expect(link?.[0]).toContain(`href="${url(path ?? "").href}"`);
    }
    expect(body).toContain("Die Wahl");
    expect(body).not.toContain("Wetter</a>");

    const feed = (await (await fetch(url("/sections/politik/feed.json"))).json()) as JsonObject;
    expect((feed.items as JsonObject[]).map((item) => item.title)).toEqual(["Die Wahl"]);
    expect(String(feed.title)).toContain("Politik");
    const rss = await fetch(url("/sections/politik/feed.xml"));
    expect(rss.headers.get("content-type")).toContain("application/rss+xml");
    expect(await rss.text()).toContain("Die Wahl");
    expect((await fetch(url("/sections/sport"))).status).toBe(404);
    const sitemap = await (await fetch(url("/sitemap.xml"))).text();
    expect(sitemap).toContain(`<loc>${url("/sections/politik").href}</loc>`);
    expect(sitemap).toContain(`<loc>${url("/sections/wirtschaft").href}</loc>`);
    // A browser opening the section's account (a link in Mastodon) lands on its page.
    const profile = await fetch(url("/users/politik"), {
      headers: { Accept: "text/html" },
      redirect: "manual",
    });
    expect(profile.status).toBe(303);
    expect(profile.headers.get("location")).toBe(url("/sections/politik").href);
    expect((await fetch(url("/sections/sport/feed.xml"))).status).toBe(404);

    // The section's follow box sends a reader to their server's page for the section's account.
    const follow = await fetch(url("/follow?account=mastodon.example&section=politik"), {
      redirect: "manual",
    });
    expect(follow.status).toBe(303);
    const to = new URL(follow.headers.get("location") ?? "");
    expect(to.origin + to.pathname).toBe("https://mastodon.example/authorize_interaction");
    expect(to.searchParams.get("uri")).toBe(url("/users/politik").href);
    const unknown = await fetch(url("/follow?account=mastodon.example&section=sport"), {
      redirect: "manual",
    });
    expect(unknown.status).toBe(400);
  });

  it("tell a section's followers when its profile changes with the site's", async () => {
    const folders = heraldFolders();
    let herald = await startHerald(folders, { env: { SECTIONS, SITE_TITLE: "Tagblatt" } });
    const remote = await remoteAt("127.0.20.3");
    const politik = await follow(remote, herald, "politik");
    expect((await remote.fetchObject(politik)).name).toBe("Politik · Tagblatt");
    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, {
      port: herald.port,
      env: { SECTIONS, SITE_TITLE: "Abendblatt" },
    });
    const update = await remote.waitFor((a) => a.type === "Update", { timeoutMs: 15_000 });
    expect(update.signer?.href).toBe(politik.href);
    expect(((update.activity as JsonObject).object as JsonObject).name).toBe(
      "Politik · Abendblatt",
    );
  });
});
