import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { type JsonObject, startFakeRemote } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

const story = (correction: string) =>
  [
    "---",
    "title: Lukaschenko empfängt Delegation",
    "language: de",
    correction,
    "---",
    "Die Delegation kam am Dienstag in Minsk an und blieb zwei Tage.",
  ].join("\n");

const notice = "Korrektur vom 6. Dezember 2026:";
const text = "In einer früheren Fassung hieß es, die Delegation sei am Montag angekommen.";

describe("a correction, wherever the story is read", () => {
  it("shows on the page, in RSS, Atom and JSON Feed, and in the Update a follower receives", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { TIME_ZONE: "Europe/Berlin" } });
    const remote = await startFakeRemote({ users: ["alice"] });
    onTestFinished(() => remote.close());
    const { actorUrl } = await remote.lookup(`news@${herald.origin.host}`);
    await remote.follow("alice", actorUrl);
    await remote.waitFor((a) => a.type === "Accept", { timeoutMs: 15_000 });

    const file = join(folders.articles, "delegation.md");
    writeFileSync(file, story(""));
    const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    expect(String(((created.activity as JsonObject).object as JsonObject).content)).not.toContain(
      "Korrektur",
    );

    writeFileSync(file, story(`correction:\n  - { date: 2026-12-06, text: "${text}" }`));
    const updated = await remote.waitFor((a) => a.type === "Update", { timeoutMs: 15_000 });
    const content = String(((updated.activity as JsonObject).object as JsonObject).content).replace(
      /<[^>]*>/g,
      "",
    );
    expect(content).toContain(notice);
    expect(content).toContain(text);
    expect(content.indexOf(notice)).toBeGreaterThan(content.indexOf("blieb zwei Tage"));

    const page = await (await fetch(new URL("/articles/delegation", herald.origin))).text();
    expect(page).toMatch(/<aside class="corrections" aria-label="Korrekturen">/);
    expect(page).toContain('<time datetime="2026-12-06T00:00:00.000Z">6. Dezember 2026</time>');
    expect(page).toContain(text);
    for (const feed of ["/feed.xml", "/atom.xml", "/feed.json"]) {
      const body = await (await fetch(new URL(feed, herald.origin))).text();
      // Escaped inside XML, plain inside JSON: the words are there either way.
      expect(body, feed).toContain("Korrektur vom");
      expect(body, feed).toContain("6. Dezember 2026");
      expect(body, feed).toContain("früheren Fassung");
    }
  });

  it("dates an undated correction by the edit that added it, in TIME_ZONE", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { TIME_ZONE: "Pacific/Kiritimati" } });
    const file = join(folders.articles, "delegation.md");
    writeFileSync(file, story(""));
    await eventuallyText(new URL("/articles/delegation", herald.origin), "blieb zwei Tage");
    writeFileSync(file, story(`correction: "${text}"`));
    const page = await eventuallyText(new URL("/articles/delegation", herald.origin), text);
    const day = new Intl.DateTimeFormat("de", {
      dateStyle: "long",
      timeZone: "Pacific/Kiritimati",
    }).format(new Date());
    expect(page).toContain(`Korrektur vom <time datetime="`);
    expect(page).toContain(`">${day}</time>`);
  });
});

async function eventuallyText(url: URL, wanted: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const body = await (await fetch(url)).text();
    if (body.includes(wanted) || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
