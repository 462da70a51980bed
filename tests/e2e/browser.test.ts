import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContextOptions, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paths } from "../../src/urls.ts";
import { seedPath } from "../helpers/articles.ts";
import {
  type HeraldFolders,
  type HeraldProcess,
  makeFolders,
  spawnHerald,
} from "../helpers/herald-spawn.ts";

// Issue #15 item 6: the pages as a reader's browser shows them, in Debian's Chromium (`.ci/run`
// installs it). Playwright never downloads a browser here: it drives the system one.
const executablePath = "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Whether to skip: only where Chromium is missing, and never in CI (`.ci/run` installs it). */
function skipWithoutChromium(): boolean {
  if (existsSync(executablePath)) return false;
  const reason = `needs Debian's Chromium at ${executablePath} (apt-get install chromium)`;
  if (process.env.CI) throw new Error(`tests/e2e/browser.test.ts ${reason}.`);
  console.warn(`Skipping tests/e2e/browser.test.ts: it ${reason}.`);
  return true;
}
const skip = skipWithoutChromium();
const axeSource = readFileSync(
  createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
  "utf8",
);

/** Where a reviewer looks at every page (git-ignored); `UPDATE_SCREENSHOTS=1` also refreshes the README's. */
const screenshots = fileURLToPath(new URL("../../test-results/screenshots/", import.meta.url));
const readmeScreenshots = fileURLToPath(new URL("../../docs/screenshots/", import.meta.url));

const widths = [1280, 390] as const;
const pages = [
  { name: "home", path: paths.home, status: 200 },
  { name: "seed", path: paths.article("belarus-nordkorea"), status: 200 },
  { name: "tag", path: paths.tag("Haushalt"), status: 200 },
  { name: "section", path: paths.section("politik"), status: 200 },
  { name: "image", path: paths.article("haushalt-foto"), status: 200 },
  { name: "gone", path: paths.article("zurueckgezogen"), status: 410 },
] as const;

const imageArticle = `---
title: Der Haushalt im Bild
date: 2026-12-04T09:00:00+01:00
tags: [Haushalt, Politik]
slug: haushalt-foto
---
Der Landtag hat den Doppelhaushalt am Donnerstagabend mit knapper Mehrheit beschlossen.

![Die Abgeordneten bei der Schlussabstimmung](foto.png "Die Schlussabstimmung im Plenum | Foto: Redaktion")

Die Opposition kündigte an, vor dem Verfassungsgerichtshof zu klagen.

| Ressort | 2025 (Mio. €) | 2026 (Mio. €) | 2027 (Mio. €) | Veränderung | Anteil am Gesamthaushalt |
|---|---|---|---|---|---|
| Bildungsministerium | 12.345,6 | 12.901,2 | 13.410,9 | +8,6 % | 21,4 % |
| Innenministerium | 4.210,0 | 4.388,5 | 4.502,3 | +6,9 % | 7,2 % |

Quelle: https://landtag.example/drucksachen/19/haushaltsgesetz-2026-2027-beschlussempfehlung-des-haushaltsausschusses.pdf
`;

const withdrawnArticle = `---
title: Eine zurückgezogene Meldung
date: 2026-12-03T08:00:00+01:00
tags: [Haushalt]
slug: zurueckgezogen
---
Diese Meldung wurde nach der Veröffentlichung zurückgezogen.
`;

/**
 * The little of the browser's `window` the callbacks below use: they run in the page, and the
 * project's type check has no DOM library (adding one would retype Node's globals everywhere).
 */
interface InPage {
  readonly innerWidth: number;
  readonly document: {
    readonly documentElement: { readonly scrollWidth: number; readonly scrollHeight: number };
    querySelector(selector: string): {
      readonly currentSrc: string;
      readonly width: number;
    } | null;
    addEventListener(
      type: "securitypolicyviolation",
      listener: (event: { violatedDirective: string; blockedURI: string }) => void,
    ): void;
  };
  scrollTo(x: number, y: number): void;
  cspViolations?: string[];
  readonly devicePixelRatio: number;
  axe: typeof import("axe-core");
}

describe.skipIf(skip)("The pages in headless Chromium (issue #15)", () => {
  let folders: HeraldFolders & { remove(): void };
  let herald: HeraldProcess;
  let browser: Browser;

  beforeAll(async () => {
    folders = makeFolders();
    copyFileSync(seedPath, join(folders.articles, "belarus-nordkorea.txt"));
    const photo = sharp({
      create: { width: 1600, height: 900, channels: 3, background: "#3a6b8c" },
    });
    await photo.png().toFile(join(folders.articles, "foto.png"));
    writeFileSync(join(folders.articles, "haushalt-foto.md"), imageArticle);
    writeFileSync(join(folders.articles, "zurueckgezogen.md"), withdrawnArticle);
    // One Herald for all pages (`startHerald` would stop it after the first test).
    // A site title as an operator would set it: the screenshots in the README show it.
    herald = await spawnHerald(folders, {
      env: {
        SITE_TITLE: "Herald Nachrichten",
        TIME_ZONE: "Europe/Berlin",
        // A section's page (#18.3) is one of the pages; the home page links it.
        SECTIONS: "politik: Politik, tags politik, haushalt",
      },
    });
    // Published once, then removed: its page answers 410 from the next scan on.
    rmSync(join(folders.articles, "zurueckgezogen.md"));
    const gone = new URL(paths.article("zurueckgezogen"), herald.origin);
    for (let tries = 0; (await fetch(gone)).status !== 410; tries++) {
      if (tries > 100) throw new Error(`${gone.href} never answered 410:\n${herald.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // `launch` gives every run a fresh temporary profile (its user-data-dir), removed on close.
    browser = await chromium.launch({ executablePath, args: chromiumArgs });
    mkdirSync(screenshots, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await herald?.kill();
    folders?.remove();
  });

  /** A fresh context at that width; nothing it loads may leave loopback. */
  async function openPage(width: number, options: BrowserContextOptions = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, ...options });
    await context.route(
      (url) => url.origin !== herald.origin.origin,
      (route) => route.abort(),
    );
    return context.newPage();
  }

  describe.each(widths)("In Chromium at %i px wide", (width) => {
    it.each(pages)(
      "$name ($path) shows no error, fits the screen and passes axe",
      async (target) => {
        const url = new URL(target.path, herald.origin);

        // The page as served, under its real Content-Security-Policy.
        const page = await openPage(width);
        const problems: string[] = [];
        page.on("console", (message) => {
          // Chromium logs the status of the page itself; the 410 page is meant to have one.
          const ownStatus =
            message.location().url === url.href && /status of 410/.test(message.text());
          if (message.type() === "error" && !ownStatus) problems.push(`console: ${message.text()}`);
        });
        page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
        page.on("requestfailed", (request) => problems.push(`failed: ${request.url()}`));
        await page.addInitScript(() => {
          const window = globalThis as unknown as InPage;
          const seen: string[] = [];
          window.cspViolations = seen;
          window.document.addEventListener("securitypolicyviolation", (event) => {
            seen.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
          });
        });
        const response = await page.goto(url.href, { waitUntil: "load" });
        expect(response?.status()).toBe(target.status);
        // Lazy images load as they come into view: scroll through so every one is fetched.
        await page.evaluate(() => {
          const window = globalThis as unknown as InPage;
          window.scrollTo(0, window.document.documentElement.scrollHeight);
        });
        await page.waitForLoadState("networkidle");
        const violations = await page.evaluate(
          () => (globalThis as unknown as InPage).cspViolations ?? ["the listener never ran"],
        );
        problems.push(...violations.map((violation) => `CSP: ${violation}`));
        expect(problems).toEqual([]);

        if (target.name === "image") {
          // Issue #15.3: a phone gets a copy near its width from the srcset, not the original.
          const shown = await page.evaluate(() => {
            const window = globalThis as unknown as InPage;
            const img = window.document.querySelector(".content figure img");
            return img && { src: img.currentSrc, css: img.width };
          });
          expect(shown?.css).toBeGreaterThan(0);
          expect(shown?.src).toMatch(/\/media\/foto\.png\?w=\d+$/);
          // What was sent is that small (`naturalWidth` is the slot's width, density-corrected).
          const sent = await page.request.get(shown?.src ?? "");
          const { width: sentWidth = Infinity } = await sharp(await sent.body()).metadata();
          expect(sentWidth).toBeLessThanOrEqual(width === 390 ? 960 : 1280);
          expect(sentWidth).toBeLessThan(1600);
        }

        const fits = await page.evaluate(() => {
          const window = globalThis as unknown as InPage;
          return {
            scrollWidth: window.document.documentElement.scrollWidth,
            innerWidth: window.innerWidth,
          };
        });
        expect(fits.scrollWidth, "scrolls sideways").toBeLessThanOrEqual(fits.innerWidth);

        const shot = await page.screenshot({ fullPage: true });
        writeFileSync(join(screenshots, `${target.name}-${width}.png`), shot);
        if (target.name === "seed" && process.env.UPDATE_SCREENSHOTS === "1") {
          mkdirSync(readmeScreenshots, { recursive: true });
          // The first screen, as a reader opening the link sees it; a palette PNG is a fifth of the
          // size, and a screenshot of text loses nothing by it.
          await page.evaluate(() => (globalThis as unknown as InPage).scrollTo(0, 0));
          await sharp(await page.screenshot())
            .png({ palette: true, compressionLevel: 9 })
            .toFile(join(readmeScreenshots, `seed-${width}.png`));
        }
        await page.context().close();

        // axe needs its script in the page, which the CSP rightly forbids: this pass alone bypasses it.
        // Both colour schemes: the stylesheet has a dark palette, and its contrast counts too.
        const axePage = await openPage(width, { bypassCSP: true });
        await axePage.goto(url.href, { waitUntil: "load" });
        await axePage.addScriptTag({ content: axeSource });
        const serious: { scheme: string; rule: string; help: string; where: string[] }[] = [];
        for (const colorScheme of ["light", "dark"] as const) {
          await axePage.emulateMedia({ colorScheme });
          const found = await axePage.evaluate(async () => {
            const { axe } = globalThis as unknown as InPage;
            const { violations } = await axe.run({ resultTypes: ["violations"] });
            return violations
              .filter(
                (violation) => violation.impact === "serious" || violation.impact === "critical",
              )
              .map((violation) => ({
                rule: violation.id,
                help: violation.help,
                where: violation.nodes.map((node) => node.target.join(" ")),
              }));
          });
          serious.push(...found.map((violation) => ({ scheme: colorScheme, ...violation })));
        }
        await axePage.context().close();
        expect(serious).toEqual([]);
      },
    );
  });
});
