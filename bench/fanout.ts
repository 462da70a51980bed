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
const roundCount = Number(process.env.BENCH_ROUNDS ?? 3);

const remotes = await startFakeRemotes(count);
const folders = makeFolders();
// Every fake server sends from 127.0.0.1: one client address, whose inbox rate limit would
// hold back most of the follows.
const herald = await spawnHerald(folders, { env: { INBOX_RATE_LIMIT: "1000000" } });
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

  // The baseline: the same number of signed POSTs, signed and sent by a bare script. A first
  // round lets every host fetch and cache the sender's key, as they cached Herald's on Accept.
  let sent = 0;
  const activity = (): JsonObject => ({
    "@context": "https://www.w3.org/ns/activitystreams",
    id: `${first.actorUrl().href}/baseline/${sent++}`,
    type: "Create",
    actor: first.actorUrl().href,
    to: ["https://www.w3.org/ns/activitystreams#Public"],
    object: { type: "Note", content: "One story, a thousand inboxes." },
  });
  const baseline = async () => {
    const t = performance.now();
    await inBatches(remotes, async (remote) => {
      const result = await first.post(first.users[0] ?? "alice", remote.sharedInbox, activity());
      if (result.status !== 202) throw new Error(`baseline POST answered ${result.status}`);
    });
    return (performance.now() - t) / 1000;
  };
  await baseline();

  // Herald: from the scan finding a new article (scans run every second) to the last follower
  // holding its verified Create; each round paired with a baseline run right after it, so both
  // see the same machine.
  const rounds: { herald: number; file: number; baseline: number }[] = [];
  for (let round = 1; round <= roundCount; round++) {
    const slug = `breaking-${round}`;
    const title = `Breaking ${round}`;
    const started = performance.now();
    let found = Number.NaN;
    const queued = herald
      .waitForLog(new RegExp(`Queued Create of ${slug}\\b`), 120_000)
      .then(() => {
        found = performance.now();
      });
    writeFileSync(
      join(folders.articles, `${slug}.md`),
      `# ${title}\n\nOne story, a thousand inboxes.`,
    );
    await inBatches(remotes, (remote) =>
      remote.waitFor((a) => a.type === "Create" && (a.object as JsonObject)?.name === title, {
        timeoutMs: 120_000,
      }),
    );
    const done = performance.now();
    await queued;
    rounds.push({
      herald: (done - found) / 1000,
      file: (done - started) / 1000,
      baseline: await baseline(),
    });
  }
  const creates = remotes.map(
    (r) =>
      r.received(
        (q) => q.type === "Create" && q.verified && q.signer?.origin === herald.origin.origin,
      ).length,
  );
  const exactlyOnce = creates.filter((n) => n === roundCount).length;
  const median = (values: number[]) =>
    values.sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
  const ratio = median(rounds.map((r) => r.herald / r.baseline));
  const heraldSeconds = median(rounds.map((r) => r.herald));

  const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
  const rows = rounds
    .map(
      (r, i) =>
        `| ${i + 1} | ${r.baseline.toFixed(2)} | ${r.herald.toFixed(2)} | ${(r.herald / r.baseline).toFixed(2)}× | ${r.file.toFixed(2)} |`,
    )
    .join("\n");
  const body = `Command: \`node bench/fanout.ts\` (${count.toLocaleString("en")} followers, each on its own loopback host with its own inbox; the fake Mastodon-like servers verify every signature; ${roundCount} rounds).

Per round, one new article: **Herald** = from the scan finding it to the last follower holding its verified \`Create\`; **baseline** = right after, a bare script signing (RSA-2048, draft-cavage) and POSTing ${count} activities to the same inboxes, ${concurrency} at a time; **file** = from writing the file (includes waiting for the next scan, every second here).

| round | baseline s | Herald s | Herald vs baseline | file → last delivery s |
|---:|---:|---:|---:|---:|
${rows}

${exactlyOnce} of ${count} followers got exactly one \`Create\` per article (${creates.filter((n) => n > roundCount).length} got more, ${creates.filter((n) => n < roundCount).length} fewer).
Setting up: ${count} real follows, accepted through Herald's queue, took ${followSeconds.toFixed(1)} s.

Targets (median round): within 3× of the baseline: ${ratio.toFixed(2)}× (${verdict(ratio <= 3)}); under 5 s: ${heraldSeconds.toFixed(2)} s (${verdict(heraldSeconds < 5)}).`;
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
