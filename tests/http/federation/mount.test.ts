/**
 * `@fedify/express` 1.10.12 ends the process when a dispatcher throws, and answers twice
 * when a non-ActivityStreams request reaches it; `crashSafe()` and the router guard stop both.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { integrateFederation } from "@fedify/express";
import { createFederation, MemoryKvStore } from "@fedify/fedify";
import { Note, Service } from "@fedify/vocab";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { crashSafe, federationMiddleware } from "../../../src/http/federation/mount.ts";
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

describe("crashSafe()", () => {
  it("turns a throwing dispatcher into a 500 and keeps the server up", async () => {
    const app = express();
    app.use(
      integrateFederation(
        crashSafe(throwingFederation(), new URL("https://news.test")),
        () => undefined,
      ),
    );
    const origin = await serve(app);
    const headers = { Accept: ACTIVITY_JSON };
    expect((await fetch(new URL("/notes/1", origin), { headers })).status).toBe(500);
    expect((await fetch(new URL("/users/news", origin), { headers })).status).toBe(200);
  });

  it("answers 406 itself instead of handing the request on and answering again", async () => {
    const app = express();
    app.use(
      integrateFederation(
        crashSafe(throwingFederation(), new URL("https://news.test")),
        () => undefined,
      ),
    );
    app.use((_req, res) => void res.status(404).send("app"));
    const origin = await serve(app);
    const response = await fetch(new URL("/users/news", origin), {
      headers: { Accept: "text/html" },
    });
    expect(response.status).toBe(406);
    expect(
      (await fetch(new URL("/users/news", origin), { headers: { Accept: ACTIVITY_JSON } })).status,
    ).toBe(200);
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
