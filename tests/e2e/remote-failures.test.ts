import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { doctor } from "../helpers/doctor.ts";
import { type FakeRemote, startFakeRemotes } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

const creates = (remote: FakeRemote) =>
  remote.received((r) => r.type === "Create" && r.verified).length;
/** Distinct Create activities that reached `remote` (Fedify knocks twice on some errors). */
const createsTried = (remote: FakeRemote) =>
  new Set(remote.received((r) => r.type === "Create").map((r) => r.activity?.id)).size;

describe("Follower servers that are down, slow, failing or gone", () => {
  it("do not hold up the others, are retried or given up on, and show in the delivery report", async () => {
    const folders = heraldFolders();
    // Four delivery workers, two of which the hanging servers can hold at a time.
    const herald = await startHerald(folders, {
      env: { REQUEST_TIMEOUT_SECONDS: "2", DELIVERY_WORKERS: "4" },
    });
    const remotes = await startFakeRemotes(8);
    onTestFinished(async () => {
      await Promise.all(remotes.map((r) => r.close()));
    });
    const [hanging1, hanging2, failing, gone, ...healthy] = remotes as [
      FakeRemote,
      FakeRemote,
      FakeRemote,
      FakeRemote,
      ...FakeRemote[],
    ];
    const { actorUrl } = await hanging1.lookup(`news@${herald.origin.host}`);
    for (const remote of remotes) await remote.follow("alice", actorUrl);
    await Promise.all(
      remotes.map((r) => r.waitFor((a) => a.type === "Accept", { timeoutMs: 15_000 })),
    );
    hanging1.setMode("hang");
    hanging2.setMode("hang");
    failing.setMode("down-500");
    gone.setMode("gone-410");

    // Five stories: five failures in a row open a failing server's circuit.
    const started = Date.now();
    for (let i = 1; i <= 5; i++) {
      writeFileSync(join(folders.articles, `story-${i}.md`), `# Story ${i}\n\nText ${i}.`);
    }
    await Promise.all(
      healthy.map((remote) =>
        expect.poll(() => creates(remote), { timeout: 15_000, interval: 100 }).toBe(5),
      ),
    );
    const healthySeconds = (Date.now() - started) / 1000;
    // Each hanging delivery takes its worker for 2 s; the healthy ones did not wait for them.
    expect(healthySeconds).toBeLessThan(12);

    // The failing server was tried with each story (retries are a minute away); the gone one
    // answered 410 and is not asked again.
    await expect.poll(() => createsTried(failing), { timeout: 10_000 }).toBe(5);
    await herald.waitForLog(/Deliveries to 127\.0\.0\.1:\d+ paused/, 15_000);
    expect(herald.output()).toContain(`Deliveries to ${failing.host} paused`);
    expect(createsTried(gone)).toBe(5);
    for (const remote of [hanging1, hanging2]) expect(createsTried(remote)).toBeGreaterThan(0);

    // The report: per activity, delivered / pending / failed, naming the hosts behind.
    const { stdout } = await doctor(folders, herald.origin);
    const lines = stdout.split("\n").filter((line) => / Create http/.test(line));
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line).toMatch(/^warn +Create \S+: 4 delivered, 3 pending, 1 failed/);
      expect(line).toContain(`${gone.host}: 1 failed (HTTP 410)`);
      expect(line).toContain(`${failing.host}: 1 pending (HTTP 500)`);
    }
  });
});
