import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { doctor } from "../helpers/doctor.ts";
import { type FakeRemote, startFakeRemotes } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

const USERS = ["alice", "bob"];

/** The account's followers, as its followers collection counts them. */
async function followerCount(origin: URL): Promise<number> {
  const response = await fetch(new URL("/users/news/followers", origin), {
    headers: { Accept: "application/activity+json" },
  });
  return ((await response.json()) as { totalItems: number }).totalItems;
}

describe("Follower servers whose shared inbox is gone", () => {
  it("lose the followers whose actors are gone too, keep those still answering, and the doctor lists them", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { REQUEST_TIMEOUT_SECONDS: "2" } });
    const remotes = await startFakeRemotes(3, { users: USERS });
    onTestFinished(async () => {
      await Promise.all(remotes.map((remote) => remote.close()));
    });
    const [gone, inboxOnly, healthy] = remotes as [FakeRemote, FakeRemote, FakeRemote];
    const { actorUrl } = await healthy.lookup(`news@${herald.origin.host}`);
    for (const remote of remotes) {
      for (const user of USERS) await remote.follow(user, actorUrl);
    }
    for (const remote of remotes) {
      await expect
        .poll(() => remote.received({ type: "Accept", verified: true }).length, { timeout: 15_000 })
        .toBe(USERS.length);
    }
    expect(await followerCount(herald.origin)).toBe(6);
    // The whole server is gone: its shared inbox and its actors answer 410. The other one's
    // shared inbox answers 410 (a misconfigured proxy, say), but its accounts still answer.
    gone.setMode("server-gone");
    inboxOnly.setMode("gone-410");

    writeFileSync(join(folders.articles, "story.md"), "# Story\n\nText.");
    await healthy.waitFor((activity) => activity.type === "Create", { timeoutMs: 15_000 });
    await herald.waitForLog(
      new RegExp(`${gone.sharedInbox.href} answered 410: of the 2 followers there, 2 are gone too`),
    );
    await herald.waitForLog(
      new RegExp(
        `${inboxOnly.sharedInbox.href} answered 410: of the 2 followers there, 0 are gone too`,
      ),
    );
    for (const user of USERS) {
      // Warnings and information go to different streams: wait for each line.
      await herald.waitForLog(
        new RegExp(`Removed follower ${gone.actorUrl(user).href}: its server is gone: HTTP 410`),
      );
      expect(herald.output()).not.toContain(`Removed follower ${inboxOnly.actorUrl(user).href}`);
    }
    expect(await followerCount(herald.origin)).toBe(4);

    const { stdout } = await doctor(folders, herald.origin);
    const line = stdout.split("\n").find((l) => l.includes("Followers removed")) ?? "";
    expect(line).toMatch(/^ok +Followers removed: 2 followers removed: their servers are gone; /);
    for (const user of USERS) expect(line).toContain(gone.actorUrl(user).href);
  });
});
