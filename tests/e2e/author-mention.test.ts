/**
 * Issue #18.1 end to end: a story whose front matter names its author's fediverse account
 * mentions that account, and the author's server (a Mastodon-like fake over https on
 * 127.0.0.86, which follows nobody) receives the signed post, so the journalist is notified.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { type JsonObject, startFakeRemote } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";
import { throwawayCert } from "../helpers/tls.ts";

describe("An author's fediverse account (issue #18.1)", () => {
  it("is mentioned in the post, which their server receives signed", async () => {
    const tls = throwawayCert("127.0.0.86");
    const authors = await startFakeRemote({ users: ["jane"], tls, address: "127.0.0.86" });
    onTestFinished(() => authors.close());
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { NODE_EXTRA_CA_CERTS: tls.certFile } });
    const handle = `@${authors.handle("jane")}`;
    writeFileSync(
      join(folders.articles, "wahl.md"),
      `---\ntitle: Wahl\nauthor: { name: Jane Doe, fediverse: "${handle}" }\n---\nDie Wahl ist vorbei.`,
    );

    const received = await authors.waitFor((a) => a.type === "Create", { timeoutMs: 20_000 });
    expect(received.signer?.href).toBe(new URL("/users/news", herald.origin).href);
    const object = (received.activity as JsonObject).object as JsonObject;
    const tags = (Array.isArray(object.tag) ? object.tag : [object.tag]) as JsonObject[];
    expect(tags).toContainEqual({
      type: "Mention",
      href: authors.actorUrl("jane").href,
      name: handle,
    });
    expect(object.cc).toContain(authors.actorUrl("jane").href);
    // The text links her as Mastodon writes a mention (to her profile page), after her name.
    const profile = new URL("/@jane", authors.origin).href;
    expect(String(object.content)).toContain(
      `<p>Jane Doe <span class="h-card" translate="no"><a href="${profile}" class="u-url mention">@<span>jane</span></a></span></p>`,
    );

    // The post as served names her as the delivered one did.
    const served = await authors.fetchObject(new URL(String(object.id)));
    expect([served.tag].flat()).toContainEqual({
      type: "Mention",
      href: authors.actorUrl("jane").href,
      name: handle,
    });

    // So do the outbox's and the featured collection's copies.
    const actor = await authors.fetchObject(new URL("/users/news", herald.origin));
    const outbox = await authors.fetchObject(new URL(String(actor.outbox)));
    const firstPage = await authors.fetchObject(new URL(String(outbox.first)));
    const listed = ([firstPage.orderedItems].flat() as JsonObject[])[0]?.object as JsonObject;
    expect([listed.tag].flat()).toContainEqual(
      expect.objectContaining({ type: "Mention", name: handle }),
    );
    const featured = await authors.fetchObject(new URL(String(actor.featured)));
    const pinned = ([featured.orderedItems].flat() as JsonObject[])[0] as JsonObject;
    expect([pinned.tag].flat()).toContainEqual(
      expect.objectContaining({ type: "Mention", name: handle }),
    );

    // The page names her as its creator, before the site's own account.
    const page = await (await fetch(new URL("/articles/wahl", herald.origin))).text();
    expect(page).toContain(`<meta name="fediverse:creator" content="${handle}">`);
  });
});
