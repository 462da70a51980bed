import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { doctor } from "../helpers/doctor.ts";
import { type FakeRemote, startFakeRemotes } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";
import { instanceBackends } from "../helpers/postgres.ts";

const HEALTHY = 20;

const creates = (remote: FakeRemote) =>
  remote.received((r) => r.type === "Create" && r.verified).length;
/** Distinct Create activities that reached `remote` (Fedify knocks twice on some errors). */
const createsTried = (remote: FakeRemote) =>
  new Set(remote.received((r) => r.type === "Create").map((r) => r.activity?.id)).size;
/** Every Create request that reached `remote`, retries included. */
const createRequests = (remote: FakeRemote) => remote.received((r) => r.type === "Create").length;

const backends = instanceBackends;

describe.each(backends)(
  "Follower servers that are down, slow, failing or gone ($name)",
  ({ env }) => {
    // Five phases with real retries and circuit timings: more than the default 20 s when the
    // machine runs the rest of the suite beside it.
    it("do not hold up the others, are retried or given up on, and show in the delivery report", {
      timeout: 90_000,
    }, async () => {
      const folders = heraldFolders();
      const backendEnv = await env();
      // Four delivery workers, two of which the hanging servers can hold at a time; retries a
      // second apart (doubling) instead of a minute, so a retry happens within the test.
      const herald = await startHerald(folders, {
        env: {
          ...backendEnv,
          REQUEST_TIMEOUT_SECONDS: "2",
          DELIVERY_WORKERS: "4",
          DELIVERY_FIRST_RETRY_SECONDS: "1",
        },
      });
      // The gone server has no shared inbox: Herald delivers to its user's own inbox, which
      // answers 410 (a shared inbox speaks for the whole server, so its 410 removes no one).
      const [gone] = (await startFakeRemotes(1, { sharedInbox: false })) as [FakeRemote];
      const others = await startFakeRemotes(HEALTHY + 5);
      const remotes = [...others, gone];
      onTestFinished(async () => {
        await Promise.all(remotes.map((r) => r.close()));
      });
      const [hanging1, hanging2, failing, flaky, down, ...healthy] = others as [
        FakeRemote,
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
      flaky.setMode("down-500");
      gone.setMode("gone-410");
      await down.close(); // its port now refuses connections

      // Story 1: the healthy servers get it promptly although two servers never answer.
      let started = Date.now();
      writeFileSync(join(folders.articles, "story-1.md"), "# Story 1\n\nText 1.");
      await Promise.all(
        healthy.map((remote) =>
          expect.poll(() => creates(remote), { timeout: 15_000, interval: 100 }).toBe(1),
        ),
      );
      const firstSeconds = (Date.now() - started) / 1000;
      expect(firstSeconds).toBeLessThan(8);

      // The flaky server answered 500, then recovers: the retry delivers story 1.
      await expect.poll(() => createsTried(flaky), { timeout: 10_000 }).toBe(1);
      flaky.setMode("ok");
      await expect.poll(() => creates(flaky), { timeout: 10_000, interval: 100 }).toBe(1);
      // The gone server answered 410: its follower is removed, and not asked again.
      await herald.waitForLog(/Removed follower \S+: its inbox is gone/, 10_000);
      expect(herald.output()).toContain(`Removed follower http://${gone.host}/users/alice`);
      // Once every inbox was tried, one line with the counts, naming the hosts behind.
      await herald.waitForLog(/Sent Create \S+ once to every inbox/, 10_000);
      const round = herald.output().match(/Sent Create \S+ once to every inbox: .*/)?.[0] ?? "";
      expect(round).toMatch(/: 2[01] delivered, [45] pending, 1 failed; retrying: /);
      for (const remote of [failing, down, hanging1, hanging2])
        expect(round).toContain(remote.host);
      expect(round).toContain(`failed: ${gone.host} (HTTP 410)`);
      // The failing server is retried (several requests for the one story).
      await expect.poll(() => createRequests(failing), { timeout: 10_000 }).toBeGreaterThan(2);

      // Stories 2 to 5: five failures in a row open a failing server's circuit.
      started = Date.now();
      for (let i = 2; i <= 5; i++) {
        writeFileSync(join(folders.articles, `story-${i}.md`), `# Story ${i}\n\nText ${i}.`);
      }
      await Promise.all(
        [...healthy, flaky].map((remote) =>
          expect.poll(() => creates(remote), { timeout: 15_000, interval: 100 }).toBe(5),
        ),
      );
      const restSeconds = (Date.now() - started) / 1000;
      expect(restSeconds).toBeLessThan(12);
      expect(createsTried(gone)).toBe(1);
      await herald.waitForLog(new RegExp(`Deliveries to ${failing.host} paused`), 15_000);
      await herald.waitForLog(new RegExp(`Deliveries to ${down.host} paused`), 15_000);
      for (const remote of [hanging1, hanging2]) expect(createsTried(remote)).toBeGreaterThan(0);

      // The report: per activity, delivered / pending / failed, naming the hosts behind.
      // The hanging servers hold a worker for the 2 s deadline per try: a story's try may still
      // be running when the circuits above open. Ask again until each story's line says why they
      // wait (the assertions below say what it must say).
      const report = async () => {
        const { stdout } = await doctor(folders, herald.origin, undefined, backendEnv);
        return stdout.split("\n").filter((line) => / Create http/.test(line));
      };
      const explained = (line: string) =>
        [hanging1, hanging2].every((r) => line.includes(`${r.host}: 1 pending (`));
      let lines = await report();
      for (let deadline = Date.now() + 20_000; Date.now() < deadline; lines = await report()) {
        if (lines.length === 5 && lines.every(explained)) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(lines).toHaveLength(5);
      const delivered = HEALTHY + 1;
      for (const line of lines) {
        // Each says why: its last error, or that it is held while the circuit is open.
        const held = "held: circuit open after repeated failures";
        const pending = (remote: FakeRemote, error: string) =>
          expect(line).toMatch(new RegExp(`${remote.host}: 1 pending \\((${error}|${held})\\)`));
        pending(failing, "HTTP 500");
        pending(down, "fetch failed: connect ECONNREFUSED [0-9.:]+");
        // The whole request's deadline (outgoing.ts) runs out before the wait for headers does.
        const late = (remote: FakeRemote) =>
          `fetch failed: Request to http://${remote.host}/inbox took longer than 2 s\\.`;
        pending(hanging1, late(hanging1));
        pending(hanging2, late(hanging2));
      }
      // Story 1 (the oldest, listed last) went to the gone server too; the others did not.
      const story1 = lines.at(-1) ?? "";
      expect(story1).toMatch(
        new RegExp(`^warn +Create \\S+: ${delivered} delivered, 4 pending, 1 failed`),
      );
      expect(story1).toContain(`${gone.host}: 1 failed (HTTP 410)`);
      for (const line of lines.slice(0, -1)) {
        expect(line).toMatch(
          new RegExp(`^warn +Create \\S+: ${delivered} delivered, 4 pending, 0 failed`),
        );
        expect(line).not.toContain(gone.host);
      }
      console.log(
        `remote-failures: healthy got story 1 in ${firstSeconds.toFixed(1)} s, stories 2-5 in ${restSeconds.toFixed(1)} s; ` +
          `failing server asked ${createRequests(failing)} times`,
      );
    });
  },
);
