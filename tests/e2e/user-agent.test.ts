/**
 * Issue #12.5: every request Herald sends says who sends it, whichever part of Herald (or of
 * Fedify) makes it. One fake Mastodon over https serves as alias, relay, WebSub hub and
 * follower, and records the `User-Agent` of everything it gets.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import packageJson from "../../package.json" with { type: "json" };
import { startFakeRemote } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";
import { throwawayCert } from "../helpers/tls.ts";

describe("Outgoing requests", { timeout: 60_000 }, () => {
  it("all send User-Agent: Herald/<version> (+PUBLIC_URL)", async () => {
    const tls = throwawayCert();
    const remote = await startFakeRemote({ users: ["alice", "carol", "relay"], tls });
    onTestFinished(() => remote.close());
    const folders = heraldFolders();
    writeFileSync(join(folders.articles, "hello.md"), "# Hello\n\nFirst post.");
    const hub = new URL("/hub", remote.origin);
    const herald = await startHerald(folders, {
      env: {
        NODE_EXTRA_CA_CERTS: tls.certFile,
        ALIASES: `@${remote.handle("carol")}`,
        RELAYS: remote.actorUrl("relay").href,
        WEBSUB_HUB: hub.href,
      },
    });

    // alice follows: Herald fetches her key, then delivers an Accept.
    const { actorUrl } = await remote.lookup(`news@${herald.origin.host}`);
    await remote.follow("alice", actorUrl);
    await remote.waitFor((activity) => activity.type === "Accept", { timeoutMs: 15_000 });
    await remote.waitFor((activity) => activity.type === "Follow", { timeoutMs: 15_000 });

    const requests = remote.requests();
    const seen = (method: string, path: string) =>
      requests.some((r) => r.method === method && new URL(r.url, remote.origin).pathname === path);
    expect(seen("GET", "/.well-known/webfinger")).toBe(true); // ALIASES
    expect(seen("GET", "/users/alice")).toBe(true); // the key of alice's Follow
    expect(seen("GET", "/users/relay")).toBe(true); // the relay's actor
    expect(seen("POST", "/users/relay/inbox")).toBe(true); // the Follow of the relay
    expect(seen("POST", "/hub")).toBe(true); // WebSub
    expect(requests.some((r) => r.method === "POST" && r.url.endsWith("inbox"))).toBe(true);
    const expected = `Herald/${packageJson.version} (+${herald.origin.origin})`;
    const agents = requests
      .filter((r) => r.headers["user-agent"] !== expected)
      .map((r) => `${r.method} ${r.url}: ${r.headers["user-agent"]}`);
    expect(agents).toEqual([]);
  });
});
