/**
 * The doctor's link check against an instance behind a misconfigured proxy: a loopback server
 * that serves what Herald served before PUBLIC_URL governed every URL (collection pages on
 * `http://` behind a TLS proxy).
 */
import express from "express";
import { describe, expect, it } from "vitest";
import { linkedUrls, pageUrls, publicOriginCheck } from "../../src/cli/doctor-public.ts";
import { serve } from "../helpers/serve.ts";

const ACTIVITY_JSON = "application/activity+json";

/** An instance whose documents are on `origin`, except the outbox's first page link. */
async function instance(firstPage: (origin: string) => string): Promise<URL> {
  const app = express();
  let origin = "";
  const json = (body: () => unknown) => (_req: express.Request, res: express.Response) =>
    void res.type(ACTIVITY_JSON).send(JSON.stringify(body()));
  app.get(
    "/users/news/outbox",
    json(() => ({
      type: "OrderedCollection",
      id: `${origin}/users/news/outbox`,
      first: firstPage(origin),
    })),
  );
  app.get(
    "/users/news/followers",
    json(() => ({ id: `${origin}/users/news/followers` })),
  );
  app.get(
    "/",
    (_req, res) => void res.type("html").send(`<link rel="canonical" href="${origin}/">`),
  );
  origin = await serve(app);
  return new URL(origin);
}

const get = (url: URL | string, accept: string) => fetch(url, { headers: { Accept: accept } });
const actor = (origin: URL) => ({
  "@context": ["https://www.w3.org/ns/activitystreams"],
  id: new URL("/users/news", origin).href,
  type: "Service",
  outbox: new URL("/users/news/outbox", origin).href,
  followers: new URL("/users/news/followers", origin).href,
});

describe("publicOriginCheck()", () => {
  it("passes when every linked URL is on the public origin", async () => {
    const origin = await instance((o) => `${o}/users/news/outbox?cursor=0`);
    const check = await publicOriginCheck(
      origin,
      get,
      { webfinger: {}, actor: actor(origin) },
      undefined,
    );
    expect(check.verdict).toBe("ok");
  });

  it("fails, naming the document and URL, when a collection page is on http:// behind TLS", async () => {
    const origin = await instance(
      (o) => `${o.replace("127.0.0.1", "herald.internal")}/users/news/outbox?cursor=0`,
    );
    const check = await publicOriginCheck(
      origin,
      get,
      { webfinger: {}, actor: actor(origin) },
      undefined,
    );
    expect(check.verdict).toBe("fail");
    expect(check.detail).toMatch(
      /^1 URLs are not on http:\/\/127\.0\.0\.1:\d+ \(outbox: http:\/\/herald\.internal:\d+\/users\/news\/outbox\?cursor=0\)/,
    );
  });
});

describe("linkedUrls() and pageUrls()", () => {
  it("collects links, not vocabulary (contexts, rels, types, schemas)", () => {
    const jrd = {
      subject: "acct:news@news.test",
      links: [
        {
          rel: "http://webfinger.net/rel/profile-page",
          type: "text/html",
          href: "https://news.test/",
        },
      ],
    };
    expect(linkedUrls(jrd)).toEqual(["https://news.test/"]);
    expect(
      linkedUrls({
        "@context": "https://www.w3.org/ns/activitystreams",
        $schema: "http://x.test/s",
      }),
    ).toEqual([]);
    expect(
      pageUrls(
        '<link rel="alternate" href="https://news.test/feed.xml"><meta property="og:url" content="https://news.test/a">',
      ),
    ).toEqual(["https://news.test/feed.xml", "https://news.test/a"]);
  });
});
