import { describe, expect, it, onTestFinished } from "vitest";
import { startFakeRemotes } from "../helpers/fake-remote.ts";
import { createOf, eventually, publishReactedArticle, replyNote } from "../helpers/interactions.ts";

const SERVERS = 6;
/** Each server's users; the last one is kept back for the server's 201st reply. */
const USERS = Array.from({ length: 11 }, (_, n) => `user${n}`);
const PER_USER = 20;
const FLOOD = SERVERS * (USERS.length - 1) * PER_USER;
/** Near the 20 KB a reply may have: what makes re-reading the stored ones expensive. */
const CONTENT = `<p>${"Ein langer Kommentar, Satz für Satz. ".repeat(400)}</p>`;

/** Runs `jobs` with at most `parallel` at once. */
async function pool(jobs: readonly (() => Promise<void>)[], parallel: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]?.();
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

describe("A flood of replies", () => {
  it("is stored as fast at the end as at the start, and stops at each sender's limits", async () => {
    const remotes = await startFakeRemotes(SERVERS, { users: USERS });
    onTestFinished(async () => {
      await Promise.all(remotes.map((remote) => remote.close()));
    });
    const [first] = remotes;
    if (first === undefined) throw new Error("no remotes");
    const article = await publishReactedArticle(first, { INBOX_RATE_LIMIT: "100000" });
    const stored = /replied to article/g;
    const storedSoFar = () => article.herald.output().match(stored)?.length ?? 0;

    // When each reply was stored, as the log says.
    const times: number[] = [];
    const sampler = setInterval(() => {
      for (let n = storedSoFar(); times.length < n; ) times.push(performance.now());
    }, 20);
    onTestFinished(() => clearInterval(sampler));
    const jobs = Array.from({ length: PER_USER }, (_, n) =>
      remotes.flatMap((remote) =>
        USERS.slice(0, -1).map((user) => () => {
          const note = replyNote(remote, user, n, article.objectId, CONTENT);
          return article.send(remote, user, createOf(remote, user, note));
        }),
      ),
    ).flat();
    await pool(jobs, 8);
    await eventually(
      article.counts,
      (value) => expect(value).toMatchObject({ replies: FLOOD }),
      60_000,
    );
    clearInterval(sampler);

    // Replies stored per second, per hundred, early and late: the median of each stretch,
    // so that a moment of load elsewhere on the machine does not decide. Re-reading what
    // is stored for each new reply makes the late ones several times slower.
    const median = (from: number, to: number) => {
      const rates: number[] = [];
      for (let n = from; n < to; n += 100) {
        rates.push(100 / (((times[n + 100] ?? 0) - (times[n] ?? 0)) / 1000));
      }
      return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)] ?? 0;
    };
    const early = median(100, 500);
    const late = median(FLOOD - 501, FLOOD - 101);
    expect(late, `early ${early.toFixed(0)}/s, late ${late.toFixed(0)}/s`).toBeGreaterThan(
      early / 3,
    );

    // A 21st reply of an actor to the article, and a 201st of a server today, are not kept;
    // each limit is logged once, not per reply.
    const [user] = USERS;
    const last = USERS.at(-1) ?? "";
    for (const [who, n] of [
      [user, 20],
      [user, 21],
      [last, 0],
      [last, 1],
    ] as const) {
      const note = replyNote(first, who ?? "", n, article.objectId, "<p>Noch einer</p>");
      await article.send(first, who ?? "", createOf(first, who ?? "", note));
    }
    await article.herald.waitForLog(/sent as many replies today/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await article.counts()).toMatchObject({ replies: FLOOD });
    const log = article.herald.output();
    expect(log.match(/as many replies to article/g)).toHaveLength(1);
    expect(log.match(/sent as many replies today/g)).toHaveLength(1);
    expect(await article.page()).not.toContain("Noch einer");
  }, 180_000);
});
