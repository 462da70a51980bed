/**
 * Issue #18.4 end to end: a real Herald (`npm start`'s main.ts) and a Mastodon-like fake
 * server over https on 127.0.0.85 that advertises a FEP-3b86 Follow intent. A reader's
 * browser (Debian's Chromium, under the pages' real CSP) types their handle into the follow
 * box, submits, and lands on their own server's follow page.
 */
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { chromium } from "playwright-core";
import { describe, expect, it, onTestFinished } from "vitest";
import { FOLLOW_INTENT } from "../../src/http/follow.ts";
import { startFakeRemote } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";
import { throwawayCert } from "../helpers/tls.ts";

const ADDRESS = "127.0.0.85";
const executablePath = "/usr/bin/chromium";

/** A free port on `ADDRESS`: the intent's template names the fake server's own origin. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, ADDRESS, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function setUp() {
  const tls = throwawayCert(ADDRESS);
  const port = await freePort();
  const origin = `https://${ADDRESS}:${port}`;
  const remote = await startFakeRemote({
    users: ["alice"],
    tls,
    address: ADDRESS,
    port,
    webfingerLinks: [{ rel: FOLLOW_INTENT, template: `${origin}/intents/follow?o={object}` }],
  });
  onTestFinished(() => remote.close());
  // Herald trusts the fake server's certificate as it would a real one's.
  const herald = await startHerald(heraldFolders(), {
    env: { NODE_EXTRA_CA_CERTS: tls.certFile, SITE_LANGUAGE: "en" },
  });
  const actor = new URL("/users/news", herald.origin);
  const intent = `${origin}/intents/follow?o=${encodeURIComponent(actor.href)}`;
  return { remote, herald, intent };
}

describe("The follow box (issue #18.4)", () => {
  it("redirects a handle to the Follow intent its server advertises", async () => {
    const { remote, herald, intent } = await setUp();
    const response = await fetch(
      new URL(`/follow?account=${encodeURIComponent(`@${remote.handle("alice")}`)}`, herald.origin),
      { redirect: "manual" },
    );
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(intent);
  });

  it.skipIf(!existsSync(executablePath))(
    "takes a reader from the home page's form to their server's follow page in Chromium",
    async () => {
      const { remote, herald, intent } = await setUp();
      const browser = await chromium.launch({
        executablePath,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
      });
      onTestFinished(() => browser.close());
      // The fake server's certificate is its own; it answers the follow page with a 404,
      // which is a page all the same. Nothing goes beyond Herald and the fake server.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      await context.route(
        (url) => url.origin !== herald.origin.origin && url.origin !== remote.origin.origin,
        (route) => route.abort(),
      );
      const page = await context.newPage();
      const violations: string[] = [];
      page.on("console", (message) => {
        // The fake server's 404 for the follow page is logged too; only the CSP matters here.
        if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
      });
      await page.goto(herald.origin.href);
      await page.getByLabel("Your fediverse server or handle").fill(`@${remote.handle("alice")}`);
      await Promise.all([
        page.waitForURL(intent),
        page.getByRole("button", { name: "Follow from your server" }).click(),
      ]);
      expect(page.url()).toBe(intent);
      expect(violations).toEqual([]);
    },
  );
});
