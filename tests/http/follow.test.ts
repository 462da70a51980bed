import { Agent, getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { createApp } from "../../src/http/app.ts";
import {
  FOLLOW_INTENT,
  type FollowOptions,
  intentFromJrd,
  OSTATUS_SUBSCRIBE,
  parseFollowTarget,
} from "../../src/http/follow.ts";
import { createSite } from "../../src/http/site.ts";
import { articlesDir, sqliteStore } from "../helpers/articles.ts";
import { type FakeRemote, type JsonObject, startFakeRemote } from "../helpers/fake-remote.ts";
import { serve } from "../helpers/serve.ts";
import { throwawayCert } from "../helpers/tls.ts";

const ORIGIN = new URL("https://news.test");
const ACTOR = new URL("https://news.test/users/news");

describe("parseFollowTarget()", () => {
  it("takes a server name or a handle, with or without the leading @", () => {
    expect(parseFollowTarget(" Mastodon.Social ")).toEqual({ host: "mastodon.social" });
    expect(parseFollowTarget("@me@mastodon.social")).toEqual({
      host: "mastodon.social",
      user: "me",
    });
    expect(parseFollowTarget("me.too@social.example:8443")).toEqual({
      host: "social.example:8443",
      user: "me.too",
    });
    expect(parseFollowTarget("bücher.example")).toEqual({ host: "xn--bcher-kva.example" });
  });

  it("refuses anything else", () => {
    for (const input of [
      "",
      "localhost",
      "https://mastodon.social",
      "mastodon.social/@me",
      "me@@mastodon.social",
      "<script>@mastodon.social",
      "user:pass@mastodon.social",
      "mastodon.social?x=1",
      "mastodon social",
      "-bad.example",
      `${"a".repeat(300)}.example`,
    ]) {
      expect(parseFollowTarget(input), input).toBeUndefined();
    }
  });
});

describe("intentFromJrd()", () => {
  const link = (rel: string, template: string) => ({ rel, template });

  it("prefers the FEP-3b86 Follow intent, filling in the actor and emptying the rest", () => {
    const jrd = {
      links: [
        link(OSTATUS_SUBSCRIBE, "https://social.example/authorize_interaction?uri={uri}"),
        link(FOLLOW_INTENT, "https://social.example/intents/follow?id={object}&ok={on-success}"),
      ],
    };
    expect(intentFromJrd(jrd, ACTOR)?.href).toBe(
      `https://social.example/intents/follow?id=${encodeURIComponent(ACTOR.href)}&ok=`,
    );
  });

  it("takes the OStatus subscribe template when there is no Follow intent", () => {
    const jrd = { links: [link(OSTATUS_SUBSCRIBE, "https://social.example/ai?uri={uri}")] };
    expect(intentFromJrd(jrd, ACTOR)?.href).toBe(
      `https://social.example/ai?uri=${encodeURIComponent(ACTOR.href)}`,
    );
  });

  it("ignores templates that lead anywhere but an https page", () => {
    for (const template of ["javascript:alert({object})", "http://social.example/f?o={object}"]) {
      expect(intentFromJrd({ links: [link(FOLLOW_INTENT, template)] }, ACTOR)).toBeUndefined();
    }
    expect(intentFromJrd({ links: "nope" }, ACTOR)).toBeUndefined();
    expect(intentFromJrd(null, ACTOR)).toBeUndefined();
  });
});

/**
 * Herald's web side with the follow box on 127.0.0.1, and fake Mastodon-like servers over
 * https on this suite's loopback addresses, their certificates trusted until the test ends.
 */
async function setUp(follow: Partial<FollowOptions> = {}, remotes: RemoteSpec[] = []) {
  const started: FakeRemote[] = [];
  const cas: string[] = [];
  for (const spec of remotes) {
    const tls = throwawayCert(spec.address);
    cas.push(tls.cert);
    started.push(
      await startFakeRemote({
        users: ["alice"],
        tls,
        address: spec.address,
        webfingerLinks: spec.links ?? [],
      }),
    );
  }
  const before = getGlobalDispatcher();
  setGlobalDispatcher(new Agent({ connect: { ca: cas } }));
  onTestFinished(async () => {
    setGlobalDispatcher(before);
    await Promise.all(started.map((remote) => remote.close()));
  });
  const { store } = sqliteStore();
  const site = createSite(store, {
    page: {
      origin: ORIGIN,
      title: "Die Zeitung",
      language: "de",
      handle: "@news@news.test",
      actor: ACTOR,
    },
    feed: { origin: ORIGIN, title: "Die Zeitung", author: "Redaktion" },
    limit: 50,
  });
  const options: FollowOptions = { actor: ACTOR, allowPrivateAddress: true, ...follow };
  const base = await serve(createApp({ site, articlesDir: articlesDir().dir, follow: options }));
  const follows = (account: string) =>
    fetch(`${base}/follow?account=${encodeURIComponent(account)}`, { redirect: "manual" });
  return { base, follows, remotes: started };
}

interface RemoteSpec {
  readonly address: string;
  readonly links?: readonly JsonObject[];
}

const authorize = (host: string) =>
  `https://${host}/authorize_interaction?uri=${encodeURIComponent(ACTOR.href)}`;

describe("GET /follow", () => {
  it("sends a reader to the Follow intent their server advertises", async () => {
    const address = "127.0.0.80";
    const { follows, remotes } = await setUp({}, [
      {
        address,
        links: [
          { rel: FOLLOW_INTENT, template: `https://${address}/intents/follow?object={object}` },
        ],
      },
    ]);
    const [remote] = remotes as [FakeRemote];
    const response = await follows(`@${remote.handle("alice")}`);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(
      `https://${address}/intents/follow?object=${encodeURIComponent(ACTOR.href)}`,
    );
    const asked = remote.requests().map((r) => new URL(r.url, remote.origin));
    expect(asked.map((url) => url.searchParams.get("resource"))).toEqual([
      `acct:${remote.handle("alice")}`,
    ]);
  });

  it("falls back to authorize_interaction without an intent, or for an unknown account", async () => {
    const { follows, remotes } = await setUp({}, [{ address: "127.0.0.81" }]);
    const [remote] = remotes as [FakeRemote];
    for (const account of [remote.handle("alice"), `nobody@${remote.host}`]) {
      const response = await follows(account);
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toBe(authorize(remote.host));
    }
  });

  it("asks nobody about a bare server name", async () => {
    const { follows, remotes } = await setUp({}, [{ address: "127.0.0.82" }]);
    const [remote] = remotes as [FakeRemote];
    const response = await follows(remote.host);
    expect(response.headers.get("location")).toBe(authorize(remote.host));
    expect(remote.requests()).toEqual([]);
  });

  it("sends no request to a private address unless ALLOW_PRIVATE_ADDRESS", async () => {
    const address = "127.0.0.83";
    const links = [{ rel: FOLLOW_INTENT, template: `https://${address}/f?o={object}` }];
    const { follows, remotes } = await setUp({ allowPrivateAddress: false }, [{ address, links }]);
    const [remote] = remotes as [FakeRemote];
    const response = await follows(`@${remote.handle("alice")}`);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(authorize(remote.host));
    expect(remote.requests()).toEqual([]);
  });

  it("refuses what is neither a server nor a handle with a page in the site's language", async () => {
    const { follows, base } = await setUp();
    for (const account of ["javascript:alert(1)", "https://evil.example/x", ""]) {
      const response = await follows(account);
      expect(response.status).toBe(400);
      const body = await response.text();
      expect(body).toContain("Das ist keine Fediverse-Adresse");
      expect(body).toContain('<html lang="de"');
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    }
    expect((await fetch(`${base}/follow`)).status).toBe(400);
  });

  it("limits lookups per client address", async () => {
    const { follows } = await setUp({ perMinute: 2, now: () => 0 });
    expect((await follows("a.example")).status).toBe(303);
    expect((await follows("b.example")).status).toBe(303);
    const third = await follows("c.example");
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("is the target of the home page's follow form, which the CSP lets submit", async () => {
    const { base } = await setUp();
    const response = await fetch(base);
    const body = await response.text();
    expect(body).toMatch(/<form class="follow-form" method="get" action="\/follow">/);
    expect(body).toContain(
      '<label for="follow-account">Ihr Fediverse-Server oder Ihre Adresse</label>',
    );
    expect(body).toMatch(/<input id="follow-account" name="account"/);
    expect(response.headers.get("content-security-policy")).toContain("form-action 'self' https:");
  });
});
