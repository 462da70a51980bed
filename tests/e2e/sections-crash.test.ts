/**
 * Exactly once for a section account too (issue #18.3): Herald killed (SIGKILL) in the middle
 * of a section's fan-out of a boost; after the restart every follower of the section has the
 * boost, under one activity id.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { followAll } from "../helpers/cluster.ts";
import { type JsonObject, startFakeRemotes } from "../helpers/fake-remote.ts";
import { freePort, heraldFolders, startHerald } from "../helpers/herald-process.ts";

/** One delivery at a time, so the kill lands in the middle of the fan-out. */
const env = { DELIVERY_WORKERS: "1", SECTIONS: "politik: Politik, tags politik" };

describe("kill -9 during a section's boost, then a restart", () => {
  it("every follower of the section gets the boost, under one id", async () => {
    const folders = heraldFolders();
    const port = await freePort();
    let herald = await startHerald(folders, { port, env });
    const remotes = await startFakeRemotes(120, { address: "127.0.20.20" });
    onTestFinished(async () => {
      await Promise.all(remotes.map((r) => r.close()));
    });
    await followAll(remotes, new URL("/users/politik", herald.origin));
    const boosted = () => remotes.filter((r) => r.received({ type: "Announce" }).length > 0).length;

    writeFileSync(
      join(folders.articles, "wahl.md"),
      "---\ntitle: Wahl\ntags: [politik]\n---\nText.",
    );
    await expect.poll(boosted, { timeout: 60_000, interval: 5 }).toBeGreaterThan(5);
    await herald.kill();
    expect(boosted()).toBeLessThan(remotes.length); // the kill landed in the middle

    herald = await startHerald(folders, { port, env });
    await expect.poll(boosted, { timeout: 60_000, interval: 100 }).toBe(remotes.length);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // nothing more arrives late
    const ids = new Set(
      remotes.flatMap((r) =>
        r.received({ type: "Announce", verified: true }).map((a) => (a.activity as JsonObject).id),
      ),
    );
    expect(ids.size).toBe(1);
    // A POST in flight at the kill may arrive again (same id, which receivers drop).
    const received = remotes.map((r) => r.received({ type: "Announce" }).length);
    expect(received.filter((n) => n > 1).length).toBeLessThanOrEqual(1);
    expect(remotes.every((r) => r.received({ type: "Create" }).length === 0)).toBe(true);
  }, 180_000);
});
