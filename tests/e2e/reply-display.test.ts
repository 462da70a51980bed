import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  AS_CONTEXT,
  type JsonObject,
  PUBLIC_COLLECTION,
  startFakeRemote,
} from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

const RLO = "\u202E";

describe("What outsiders send, as the pages show it", () => {
  it("clamps a reply's date to its arrival, isolates names in <bdi>, and serves SVG under a CSP", async () => {
    const folders = heraldFolders();
    writeFileSync(
      join(folders.articles, "picture.svg"),
      '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    );
    const remote = await startFakeRemote({
      users: ["alice", "bob"],
      names: { alice: `${RLO}gnp.exe` },
    });
    onTestFinished(() => remote.close());
    // Replies show at once: this is about how the page shows them.
    const herald = await startHerald(folders, { env: { REPLIES: "auto" } });
    const { actorUrl, sharedInbox } = await remote.lookup(`news@${herald.origin.host}`);
    await remote.follow("bob", actorUrl);
    await remote.waitFor((a) => a.type === "Accept", { timeoutMs: 15_000 });
    writeFileSync(join(folders.articles, "story.md"), "---\ntitle: Story\n---\nText.");
    const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    const article = (created.activity as JsonObject).object as JsonObject;
    const articleUrl = new URL(String(article.url));

    const before = Date.now();
    const actor = remote.actorUrl("alice").href;
    const note = {
      id: `${actor}/statuses/1`,
      type: "Note",
      attributedTo: actor,
      inReplyTo: String(article.id),
      content: "<p>From the far future</p>",
      published: "+275760-09-13T00:00:00Z",
      to: [PUBLIC_COLLECTION],
    };
    const sent = await remote.post("alice", sharedInbox ?? new URL("/inbox", herald.origin), {
      "@context": AS_CONTEXT,
      id: `${note.id}/activity`,
      type: "Create",
      actor,
      object: note,
      to: note.to,
    });
    expect(sent.status).toBeLessThan(300);

    let html = "";
    await expect
      .poll(async () => (html = await (await fetch(articleUrl)).text()), { timeout: 15_000 })
      .toContain("From the far future");
    expect(html).not.toContain("275760");
    const shown = /<li class="reply">[\s\S]*?<time datetime="([^"]+)"/.exec(html)?.[1];
    expect(Date.parse(String(shown))).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Date.parse(String(shown))).toBeLessThanOrEqual(Date.now());
    // The override cannot reach past the name: it is isolated, as is the handle.
    expect(html).toContain(`<bdi>${RLO}gnp.exe</bdi>`);
    expect(html).toContain(`<bdi>@alice@${remote.host}</bdi>`);

    const svg = await fetch(new URL("/media/picture.svg", herald.origin));
    expect(svg.status).toBe(200);
    expect(svg.headers.get("content-security-policy")).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    );
    expect(svg.headers.get("x-content-type-options")).toBe("nosniff");
  }, 60_000);
});
