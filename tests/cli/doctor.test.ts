import { chmodSync, copyFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { MemoryKvStore } from "@fedify/fedify";
import { describe, expect, it } from "vitest";
import { loadOrCreateKeys } from "../../src/federation/keys.ts";
import { seedPath } from "../helpers/articles.ts";
import { doctor } from "../helpers/doctor.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

describe("npm run doctor", () => {
  it("finds a healthy instance healthy, and says what Mastodon will show", async () => {
    const folders = heraldFolders();
    copyFileSync(seedPath, join(folders.articles, "belarus-nordkorea.txt"));
    const herald = await startHerald(folders);
    const { code, stdout } = await doctor(folders, herald.origin);
    expect(stdout).toMatch(
      /^ok +WebFinger: acct:news@127\.0\.0\.1:\d+ → http:\/\/127\.0\.0\.1:\d+\/users\/news$/m,
    );
    expect(stdout).toMatch(/^ok +Vary: Accept/m);
    expect(stdout).toMatch(/^ok +Actor handle: webfinger is news@127\.0\.0\.1:\d+ \(FEP-2c59\)$/m);
    expect(stdout).toMatch(
      /^ok +Byline: the newest page names @news@127\.0\.0\.1:\d+ as its creator/m,
    );
    expect(stdout).toMatch(/^ok +Author attribution: the actor vouches for 127\.0\.0\.1:/m);
    expect(stdout).toMatch(
      /^ok +Post \(Article\): Mastodon shows the title "Wie die beiden Länder/m,
    );
    expect(stdout).toMatch(/^ok +Key file: rsa\.jwk\.json is private \(mode 600\)$/m);
    expect(stdout).toMatch(/^ok +Delivery queue: 0 waiting/m);
    expect(stdout).toMatch(/^warn +HTTPS: plain http on loopback/m);
    expect(stdout).toMatch(
      /^ok +Links: every URL in WebFinger, actor, outbox, outbox first page, followers, followers first page, newest post, home page is on http:\/\/127\.0\.0\.1:\d+$/m,
    );
    expect(stdout).toMatch(
      /^ok +Signatures \(RFC 9421\): a signed POST to each inbox is accepted$/m,
    );
    expect(stdout).toMatch(/^ok +Signatures \(draft-cavage\): a signed POST/m);
    expect(stdout).not.toMatch(/^FAIL/m);
    expect(code).toBe(0);
  });

  it("checks that each section account resolves with its own key, and fails one that does not (#18.3)", async () => {
    const folders = heraldFolders();
    const SECTIONS = "politik: Politik, tags politik";
    const herald = await startHerald(folders, { env: { SECTIONS } });
    const healthy = await doctor(folders, herald.origin, undefined, { SECTIONS });
    expect(healthy.stdout).toMatch(
      /^ok +Section @politik@127\.0\.0\.1:\d+: resolves to http:\/\/127\.0\.0\.1:\d+\/users\/politik: "Politik · /m,
    );
    // A section the running instance does not have (its SECTIONS differ from the doctor's).
    const more = `${SECTIONS}; sport: Sport`;
    const { code, stdout } = await doctor(folders, herald.origin, undefined, { SECTIONS: more });
    expect(stdout).toMatch(/^FAIL +Section @sport@127\.0\.0\.1:\d+: WebFinger for acct:sport@/m);
    expect(code).toBe(1);
  });

  it("fails, naming the problem, when PUBLIC_URL does not match or a key file is open to others", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    const file = readdirSync(folders.keys).find((f) => f.startsWith("rsa")) ?? "";
    chmodSync(join(folders.keys, file), 0o644);
    const other = new URL(`http://localhost:${herald.port}`);
    const { code, stdout } = await doctor(folders, other);
    expect(code).toBe(1);
    expect(stdout).toMatch(
      /^FAIL +PUBLIC_URL matches: the site calls itself http:\/\/127\.0\.0\.1/m,
    );
    expect(stdout).toMatch(/^FAIL +Key file: rsa\.jwk\.json has mode 644: run chmod 600/m);
  });

  it("fails the signature checks when the instance refuses what is signed for its inboxes", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    // Keys the instance does not publish: its inboxes must answer 401 to what they sign.
    const stranger = heraldFolders();
    await loadOrCreateKeys(stranger.keys, new MemoryKvStore());
    const { code, stdout } = await doctor({ ...folders, keys: stranger.keys }, herald.origin);
    expect(code).toBe(1);
    expect(stdout).toMatch(
      /^FAIL +Signatures \(RFC 9421\): http:\/\/127\.0\.0\.1:\d+\/users\/news\/inbox answered 401/m,
    );
    expect(stdout).toMatch(/^FAIL +Signatures \(draft-cavage\):/m);
    expect(stdout).toMatch(/^ok +Links:/m);
  });

  it("does not fail the signature checks of a loopback instance that cannot fetch its own key", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    const { stdout } = await doctor(folders, herald.origin, undefined, {
      ALLOW_PRIVATE_ADDRESS: "false",
    });
    expect(stdout).toMatch(
      /^warn +Signed requests: not checked: an instance on a loopback address fetches its own key only with ALLOW_PRIVATE_ADDRESS=true$/m,
    );
    expect(stdout).not.toMatch(/^FAIL/m);
  });

  it("fails when nothing answers", async () => {
    const folders = heraldFolders();
    const { code, stdout } = await doctor(folders, new URL("http://127.0.0.1:9"));
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL +PUBLIC_URL reachable: http:\/\/127\.0\.0\.1:9 did not answer/m);
  });
});
