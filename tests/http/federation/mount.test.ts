/**
 * Fedify behind express (`answerWithFedify()`): a throwing dispatcher is a 500, not the
 * process's end; a request not for ActivityStreams is answered once; every request is
 * addressed to the public origin; answers go out whole, with their length.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createFederation, MemoryKvStore } from "@fedify/fedify";
import { Note, Service } from "@fedify/vocab";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import {
  answerWithFedify,
  federationMiddleware,
  fetchRequest,
} from "../../../src/http/federation/mount.ts";
import { memoryArticleStore } from "../../federation/fixtures.ts";

const ACTIVITY_JSON = "application/activity+json";

function throwingFederation() {
  const federation = createFederation<void>({ kv: new MemoryKvStore() });
  federation.setActorDispatcher("/users/{identifier}", (ctx, identifier) =>
    identifier === "news" ? new Service({ id: ctx.getActorUri(identifier) }) : null,
  );
  federation.setObjectDispatcher(Note, "/notes/{id}", () => {
    throw new Error("The database is down.");
  });
  return federation;
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function serve(app: express.Express): Promise<URL> {
  server = createServer(app);
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/**
 * GET `target` exactly as written (a `//` path, an absolute form) from the server at `served`,
 * with `headers` as given (`Host` too), over `node:http`: what the server sent, body and all.
 */
function get(
  served: URL,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: served.hostname, port: served.port, path: target, headers });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("answerWithFedify()", () => {
  const origin = new URL("https://news.test");

  /** Fedify, then an app that answers "app" with a 404 to whatever comes its way. */
  async function fedifyThenApp(): Promise<URL> {
    const app = express();
    app.use(answerWithFedify(throwingFederation(), origin));
    app.use((_req, res) => void res.status(404).send("app"));
    return await serve(app);
  }

  it("turns a throwing dispatcher into a 500 and keeps the server up", async () => {
    const app = express();
    app.use(answerWithFedify(throwingFederation(), origin));
    const served = await serve(app);
    const headers = { Accept: ACTIVITY_JSON };
    expect((await fetch(new URL("/notes/1", served), { headers })).status).toBe(500);
    expect((await fetch(new URL("/users/news", served), { headers })).status).toBe(200);
  });

  it("answers 406 itself instead of handing the request on and answering again", async () => {
    const served = await fedifyThenApp();
    const response = await fetch(new URL("/users/news", served), {
      headers: { Accept: "text/html" },
    });
    expect(response.status).toBe(406);
    expect(
      (await fetch(new URL("/users/news", served), { headers: { Accept: ACTIVITY_JSON } })).status,
    ).toBe(200);
  });

  it("hands what Fedify has no route for on to the app", async () => {
    const served = await fedifyThenApp();
    const response = await fetch(new URL("/no/such/thing", served), {
      headers: { Accept: ACTIVITY_JSON },
    });
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("app");
  });

  it("sends Fedify's answer whole, with its length, and leaves the response's methods alone", async () => {
    const app = express();
    // Methods given to the response itself, over its prototype's (`@fedify/express` gave six).
    const shadowed: string[][] = [];
    app.use((_req, res, next) => {
      res.on("finish", () => {
        const prototype = Object.getPrototypeOf(res) as Record<string, unknown>;
        shadowed.push(Object.keys(res).filter((key) => typeof prototype[key] === "function"));
      });
      next();
    });
    app.use(answerWithFedify(throwingFederation(), origin));
    const served = await serve(app);
    const answer = await get(served, "/users/news", { Accept: ACTIVITY_JSON });
    expect(answer.headers["transfer-encoding"]).toBeUndefined();
    expect(Number(answer.headers["content-length"])).toBe(Buffer.byteLength(answer.body));
    expect(JSON.parse(answer.body).id).toBe("https://news.test/users/news");
    expect(shadowed).toEqual([[]]);
  });
});

describe("fetchRequest()", () => {
  /** What a request to `target` with `headers` becomes, read off a real server. */
  async function received(target: string, headers: Record<string, string> = {}) {
    const app = express();
    app.use((req, res) => {
      const made = fetchRequest(req, new URL("https://news.test"));
      res.json({
        url: made.url,
        host: made.headers.get("host"),
        accept: made.headers.get("accept"),
      });
    });
    const served = await serve(app);
    const { body } = await get(served, target, headers);
    return JSON.parse(body) as { url: string; host: string; accept: string | null };
  }

  it("addresses every request to the public origin, whatever Host the client sent", async () => {
    expect(
      await received("/users/news/followers?page=2", {
        Host: "evil.example",
        Accept: ACTIVITY_JSON,
      }),
    ).toEqual({
      url: "https://news.test/users/news/followers?page=2",
      host: "news.test",
      accept: ACTIVITY_JSON,
    });
  });

  it("keeps a target that starts with two slashes a path, and reads an absolute target's path", async () => {
    expect((await received("//evil.example/users/news")).url).toBe(
      "https://news.test//evil.example/users/news",
    );
    expect((await received("http://evil.example/users/news?x=1")).url).toBe(
      "https://news.test/users/news?x=1",
    );
  });
});

describe("federationMiddleware()", () => {
  it("hands requests that do not want ActivityStreams to the app, whatever the method", async () => {
    const federation = throwingFederation();
    const app = express();
    const origin = await serve(app);
    app.use(
      federationMiddleware(
        { federation, store: memoryArticleStore([]), kv: new MemoryKvStore() },
        { origin, username: "news", postType: "article", maxInboxBytes: 1024 },
      ),
    );
    app.use((_req, res) => void res.status(404).send("app"));
    for (const [method, path] of [
      ["GET", "/notes/1"],
      ["DELETE", "/users/news"],
      ["PUT", "/users/news"],
    ] as const) {
      const response = await fetch(new URL(path, origin), {
        method,
        headers: { Accept: "text/html" },
      });
      expect(response.status).toBe(404);
      expect(await response.text()).toBe("app");
    }
    const inbox = await fetch(new URL("/inbox", origin), {
      method: "POST",
      headers: { "Content-Type": ACTIVITY_JSON },
      body: "x".repeat(2048),
    });
    expect(inbox.status).toBe(413);
  });
});
