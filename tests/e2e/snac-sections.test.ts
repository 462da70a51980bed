/**
 * A section account (issue #18.3) and snac2, a fediverse server nobody on this project wrote,
 * through a real TLS proxy as in production: snac follows `@politik@herald-sections.test` and
 * gets the section's boost of a tagged story (the main account's post, which it fetches). Host
 * names of its own (127.0.20.0/24), so it runs beside the main snac2 suite.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  type HeraldFolders,
  type HeraldProcess,
  makeFolders,
  spawnHerald,
} from "../helpers/herald-spawn.ts";
import { eventually } from "../helpers/interactions.ts";
import { type SnacServer, type SnacUser, snacBinary, startSnac } from "../helpers/snac.ts";
import {
  createTestCa,
  heraldTlsEnv,
  mapHosts,
  proxyEach,
  type ReverseProxy,
  skipUnlessRoot,
  type TestCa,
} from "../helpers/tls-proxy.ts";

const SETUP_TIMEOUT = 240_000;
const STEP_TIMEOUT = 90_000;
const skip = skipUnlessRoot("the snac2 section-account suite");

const HOSTS = {
  herald: { name: "herald-sections.test", address: "127.0.20.10" },
  snac: { name: "snac-sections.test", address: "127.0.20.11" },
} as const;
const heraldOrigin = new URL(`https://${HOSTS.herald.name}`);
const politik = new URL("/users/politik", heraldOrigin);

describe.skipIf(skip)(
  "a section account and snac2 through a TLS proxy",
  { timeout: STEP_TIMEOUT },
  () => {
    let folders: HeraldFolders & { remove(): void };
    let snac: SnacServer;
    let reader: SnacUser;
    let herald: HeraldProcess;
    let ca: TestCa;
    const proxies: ReverseProxy[] = [];

    beforeAll(async () => {
      snacBinary();
      ca = await createTestCa();
      await ca.trustSystemWide();
      mapHosts([HOSTS.herald, HOSTS.snac]);
      folders = makeFolders();
      snac = await startSnac(HOSTS.snac.name);
      reader = await snac.addUser("reader");
      const heraldPort = await freePort();
      proxies.push(
        ...(await proxyEach(ca, [
          [HOSTS.herald, heraldPort],
          [HOSTS.snac, snac.port],
        ])),
      );
      herald = await spawnHerald(folders, {
        port: heraldPort,
        env: {
          PUBLIC_URL: heraldOrigin.origin,
          ALLOW_PRIVATE_ADDRESS: "true",
          SECTIONS: "politik: Politik, tags politik, wahl",
          ...heraldTlsEnv(ca),
        },
      });
    }, SETUP_TIMEOUT);

    afterAll(async () => {
      await herald?.kill();
      await snac?.stop();
      for (const proxy of proxies) await proxy.stop();
      await ca?.remove();
      folders?.remove();
    }, SETUP_TIMEOUT);

    it("snac follows the section account and records its Accept", async () => {
      await reader.follow(`@politik@${HOSTS.herald.name}`);
      const state = await eventually(
        () => reader.following(politik),
        (value) => expect(value?.type, snac.output()).toBe("Accept"),
      );
      expect(state?.actor).toBe(politik.href);
    });

    it("gets the section's boost of a tagged story, and not an untagged one", async () => {
      writeFileSync(join(folders.articles, "wetter.md"), "# Wetter\n\nSonne, kein Wahlthema.");
      await herald.waitForLog(/Queued Create of wetter/);
      writeFileSync(
        join(folders.articles, "wahl.md"),
        "---\ntitle: Die Wahl\nsummary: Gewählt wird im Mai.\ntags: [Wahl]\nlanguage: de\n---\nGewählt wird im Mai.",
      );
      await herald.waitForLog(/Queued the boost of wahl by section politik/);
      const ids = await eventually(
        () => reader.timeline().filter((id) => id.startsWith(heraldOrigin.href)),
        (fresh) => expect(fresh, snac.output()).toHaveLength(1),
      );
      const stored = snac.object(String(ids[0]));
      expect(stored?.type).toBe("Article");
      expect(stored?.name).toBe("Die Wahl");
      // The post is the main account's: the section only boosted it.
      expect(stored?.attributedTo).toBe(new URL("/users/news", heraldOrigin).href);
      const page = await reader.timelinePage();
      expect(page).toContain("Die Wahl");
      expect(page).not.toContain("Sonne, kein Wahlthema");
    });

    // snac keeps a boosted post when the boost is taken back (activitypub.c: "if a followed
    // user boosts something … and then unboosts, the post remains here"), and logs that it
    // read the Undo.
    it("reads the section's Undo of the boost when the story loses its tag", async () => {
      const post = reader.timeline().find((id) => id.startsWith(heraldOrigin.href));
      writeFileSync(
        join(folders.articles, "wahl.md"),
        "---\ntitle: Die Wahl\nsummary: Gewählt wird im Mai.\ntags: [Termine]\nlanguage: de\n---\nGewählt wird im Mai.",
      );
      await herald.waitForLog(/Queued the undoing of section politik's boost of wahl/);
      await eventually(
        () => snac.output(),
        (output) => expect(output).toContain(`Unboost for ${post}`),
      );
    });
  },
);
