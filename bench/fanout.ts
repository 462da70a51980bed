/**
 * Fan-out benchmark: one new article delivered by a real Herald process to 1,000 followers
 * on 1,000 distinct loopback hosts (ports), against a minimal script in the same run that sends
 * the same 1,000 signed POSTs (draft-cavage, RSA-2048) itself.
 *
 *   node bench/fanout.ts            (or: npm run bench -- fanout)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type FakeRemote,
  type JsonObject,
  startFakeRemotes,
} from "../tests/helpers/fake-remote.ts";
import { makeFolders, spawnHerald } from "../tests/helpers/herald-spawn.ts";
import { writeSection } from "./report.ts";

const count = Number(process.env.BENCH_FOLLOWERS ?? 1000);
const concurrency = 32;

const remotes = await startFakeRemotes(count);
const folders = makeFolders();
const herald = await spawnHerald(folders);
try {
  // Followers, for real: each host follows, Herald accepts (through its queue).
  const startedFollows = performance.now();
  const first = remotes[0] as FakeRemote;
  const { actorUrl } = await first.lookup(`news@${herald.origin.host}`);
  await inBatches(remotes, (remote) => remote.follow(remote.users[0] ?? "alice", actorUrl));
  await inBatches(remotes, (remote) =>
    remote.waitFor((a) => a.type === "Accept", { timeoutMs: 120_000 }),
  );
  const followSeconds = (performance.now() - startedFollows) / 1000;

  // Herald: from the file appearing (and from the scan finding it: scans run every second) to
  // the last verified Create.
  const started = performance.now();
  let found = Number.NaN;
  void herald.waitForLog(/Queued Create of breaking/, 120_000).then(() => {
    found = performance.now();
  });
  writeFileSync(
    join(folders.articles, "breaking.md"),
    "# Breaking\n\nOne story, a thousand inboxes.",
  );
  await inBatches(remotes, (remote) =>
    remote.waitFor((a) => a.type === "Create", { timeoutMs: 120_000 }),
  );
  const done = performance.now();
  const fileSeconds = (done - started) / 1000;
  const heraldSeconds = (done - found) / 1000;
  const creates = remotes.map((r) => r.received({ type: "Create", verified: true }).length);
  const exactlyOnce = creates.filter((n) => n === 1).length;

  // The baseline: the same number of signed POSTs, signed and sent by a bare script. The first
  // round lets every host fetch and cache the sender's key, as they cached Herald's on Accept.
  const activity = (i: number): JsonObject => ({
    "@context": "https://www.w3.org/ns/activitystreams",
    id: `${first.actorUrl().href}/baseline/${i}-${Date.now()}`,
    type: "Create",
    actor: first.actorUrl().href,
    to: ["https://www.w3.org/ns/activitystreams#Public"],
    object: { type: "Note", content: "One story, a thousand inboxes." },
  });
  const baseline = async () => {
    const t = performance.now();
    let i = 0;
    await inBatches(remotes, async (remote) => {
      const result = await first.post(first.users[0] ?? "alice", remote.sharedInbox, activity(i++));
      if (result.status !== 202) throw new Error(`baseline POST answered ${result.status}`);
    });
    return (performance.now() - t) / 1000;
  };
  await baseline();
  const baselineSeconds = await baseline();

  const ratio = heraldSeconds / baselineSeconds;
  const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
  const body = `Command: \`node bench/fanout.ts\` (${count.toLocaleString("en")} followers, each on its own loopback host with its own inbox; the fake Mastodon-like servers verify every signature).

| run | seconds | vs baseline |
|---|---:|---:|
| baseline: a bare script signing (RSA-2048, draft-cavage) and POSTing ${count} activities, ${concurrency} at a time | ${baselineSeconds.toFixed(2)} | 1.00× |
| Herald: scan found the article → last follower has its verified \`Create\` | ${heraldSeconds.toFixed(2)} | ${ratio.toFixed(2)}× |
| Herald: article file written → the same (includes waiting for the next scan, every second here) | ${fileSeconds.toFixed(2)} | ${(fileSeconds / baselineSeconds).toFixed(2)}× |

${exactlyOnce} of ${count} followers got exactly one \`Create\` (${creates.filter((n) => n > 1).length} got more, ${creates.filter((n) => n === 0).length} none).
Setting up: ${count} real follows, accepted through Herald's queue, took ${followSeconds.toFixed(1)} s.

Targets: within 3× of the baseline: ${ratio.toFixed(2)}× (${verdict(ratio <= 3)}); under 5 s: ${heraldSeconds.toFixed(2)} s (${verdict(heraldSeconds < 5)}).`;
  writeSection("Fan-out (bench/fanout.ts)", body);
  console.log(body);
} finally {
  await herald.stop();
  await Promise.all(remotes.map((r) => r.close()));
  folders.remove();
}

/** Runs `task` over `items`, `concurrency` at a time. */
async function inBatches<T>(
  items: readonly T[],
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
