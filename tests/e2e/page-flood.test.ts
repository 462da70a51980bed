import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it, onTestFinished } from "vitest";
import { openSqliteInteractionStore } from "../../src/backends/sqlite/interactions.ts";
import { AS_CONTEXT, startFakeRemote } from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

const REPLIES = 2000;

/**
 * Stores `count` replies of about 20 KB each (as many and as large as the inbox keeps, from
 * 2,000 actors on 97 servers, so within every per-sender limit) with the running service's own
 * interaction store, in its SQLite file: what the inbox would store, without minutes of signed
 * POSTs on a shared machine (tests/e2e/interactions.test.ts goes through the inbox).
 */
async function seedReplies(dataDir: string, articleId: string, count: number): Promise<void> {
  const db = new DatabaseSync(join(dataDir, "herald.sqlite"));
  const store = openSqliteInteractionStore(db);
  const words = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(350);
  for (let i = 0; i < count; i++) {
    const actor = `https://flood${i % 97}.test/users/u${i}`;
    const id = `${actor}/statuses/${i}`;
    const outcome = await store.add(articleId, {
      kind: "reply",
      id,
      actor: { id: actor, name: `Flooder ${i}`, handle: `@u${i}@flood${i % 97}.test` },
      url: id,
      contentHtml: `<p>Reply ${i}: ${words}</p>`,
      published: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    });
    expect(outcome).toBe("stored");
  }
  db.close();
}

async function timed(url: URL): Promise<{ ms: number; status: number; text: string }> {
  const start = performance.now();
  const response = await fetch(url);
  const text = await response.text();
  return { ms: performance.now() - start, status: response.status, text };
}

/** Runs `work(i)` for i < n, `concurrency` at a time. */
async function pool(n: number, concurrency: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

/** The process's peak resident memory so far, in MB (Linux). */
function peakRssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

function percentile(list: readonly number[], p: number): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

const summary = (list: readonly number[]) =>
  `median ${percentile(list, 0.5).toFixed(0)} ms, p90 ${percentile(list, 0.9).toFixed(0)} ms, worst ${Math.max(...list).toFixed(0)} ms`;

describe("An article page under a reply flood", () => {
  it("stays small and fast through 2,000 replies, likes arriving and 10,000 requests for pages that are not there", async () => {
    const folders = heraldFolders();
    writeFileSync(join(folders.articles, "story.md"), "---\ntitle: Story\n---\nText.");
    const herald = await startHerald(folders, { env: { INBOX_RATE_LIMIT: "100000" } });
    const articleUrl = new URL("/articles/story", herald.origin);
    const object = (await (
      await fetch(articleUrl, { headers: { Accept: "application/activity+json" } })
    ).json()) as { id: string };
    const articleId = new URL(object.id).pathname.split("/").at(-1) as string;

    await seedReplies(folders.data, articleId, REPLIES);
    await expect
      .poll(async () => (await timed(articleUrl)).text, { timeout: 30_000, interval: 500 })
      .toContain(`${REPLIES} replies`);

    // Unknown tags, pages and reply pages: none of them may push the article page out.
    let notFound = 0;
    await pool(10_000, 32, async (i) => {
      const path = [
        `/tags/nothing-${i}`,
        `/articles/nothing-${i}`,
        `/articles/story?replies=${41 + i}`,
      ][i % 3] as string;
      const response = await fetch(new URL(path, herald.origin));
      await response.arrayBuffer();
      if (response.status === 404) notFound++;
    });
    expect(notFound).toBe(10_000);

    const first = await timed(articleUrl);
    expect(first.status).toBe(200);
    expect(Buffer.byteLength(first.text)).toBeLessThan(1024 * 1024);
    const times = [first.ms];
    for (let i = 0; i < 4; i++) times.push((await timed(articleUrl)).ms);
    expect(percentile(times, 0.5)).toBeLessThan(100);
    // The newest 50, each shortened, and the way to older ones.
    expect(first.text.match(/<li class="reply">/g)).toHaveLength(50);
    expect(first.text).toContain(`Reply ${REPLIES - 1}:`);
    expect(first.text).not.toContain(`Reply ${REPLIES - 51}:`);
    expect(first.text).toContain(`href="${articleUrl.href}?replies=2" rel="next"`);
    const last = await timed(new URL("?replies=40", articleUrl));
    expect(last.status).toBe(200);
    expect(last.text).toContain("Reply 0:");
    expect((await timed(new URL("?replies=41", articleUrl))).status).toBe(404);

    // Likes arrive through the inbox while readers come: the page is rebuilt at most twice a
    // second, in the background; readers and the event loop (a /healthz round trip) never wait.
    const remote = await startFakeRemote({ users: Array.from({ length: 30 }, (_, i) => `l${i}`) });
    onTestFinished(() => remote.close());
    const probes: number[] = [];
    const pages: number[] = [];
    let liking = true;
    const probe = (async () => {
      while (liking) {
        probes.push((await timed(new URL("/healthz", herald.origin))).ms);
        pages.push((await timed(articleUrl)).ms);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    for (const user of remote.users) {
      const actor = remote.actorUrl(user).href;
      const sent = await remote.post(user, new URL("/inbox", herald.origin), {
        "@context": AS_CONTEXT,
        id: `${actor}#likes/1`,
        type: "Like",
        actor,
        object: object.id,
      });
      expect(sent.status).toBeLessThan(300);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await expect
      .poll(async () => (await timed(articleUrl)).text, { timeout: 15_000, interval: 200 })
      .toContain("30 likes");
    liking = false;
    await probe;
    // Timings on a machine shared with other work: the typical request (median) and the
    // event loop's typical and 90th-percentile delay must stay under 100 ms; the worst cases
    // are printed, for the record (before, each rebuild blocked it for 350 ms and more).
    console.info(
      `Article page ${Buffer.byteLength(first.text)} bytes; while likes arrived, /healthz: ${summary(probes)}; article page: ${summary(pages)}; ${pages.length} requests`,
    );
    expect(percentile(pages, 0.5)).toBeLessThan(100);
    // Before, the 43 MB page and its rebuilds took the process from 243 MB to 1.2 GB.
    const peak = peakRssMb(herald.child.pid);
    console.info(`Herald's peak resident memory: ${peak.toFixed(0)} MB`);
    expect(peak).toBeLessThan(500);
    expect(percentile(probes, 0.5)).toBeLessThan(100);
    expect(percentile(probes, 0.9)).toBeLessThan(100);
  }, 180_000);
});
