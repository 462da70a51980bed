import { DatabaseSync } from "node:sqlite";
import {
  type Context,
  FetchError,
  MemoryKvStore,
  normalizeCircuitBreakerOptions,
  type SendActivityError,
} from "@fedify/fedify";
import type { Activity } from "@fedify/vocab";
import { describe, expect, it, onTestFinished } from "vitest";
import { openBackends } from "../../../src/backends/open.ts";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";
import {
  markUnreachable,
  onPermanentFailure,
  unreachableOrigins,
  unreachableServers,
} from "../../../src/federation/delivery/gone-servers.ts";
import { createFederationPublisher } from "../../../src/federation/delivery/publisher.ts";
import { buildFederation, CIRCUIT_BREAKER } from "../../../src/federation/federation.ts";
import { toInstant } from "../../../src/federation/temporal.ts";
import { makeArticle } from "../../helpers/article-fixture.ts";
import { doctor } from "../../helpers/doctor.ts";
import { startFakeRemote } from "../../helpers/fake-remote.ts";
import { heraldFolders } from "../../helpers/herald-process.ts";
import { captureLog, logText as message } from "../../helpers/log.ts";
import { accountKeys, created, memoryArticleStore, ORIGIN, PUBLISHED } from "../fixtures.ts";

describe("CIRCUIT_BREAKER", () => {
  it("opens on one story's tries to a dead server, retried at the service's pace", () => {
    // A first try, then retries about 1, 2, 4 and 8 minutes apart (`DEFAULT_RETRY`).
    const tries = [0, 1, 3, 7, 15].map((minutes) =>
      toInstant(new Date(PUBLISHED.getTime() + minutes * 60_000)),
    );
    const failure = normalizeCircuitBreakerOptions(CIRCUIT_BREAKER).failure;
    expect(failure(tries.slice(0, 4))).toBe(false);
    expect(failure(tries)).toBe(true);
  });
});

/**
 * A real federation on SQLite in `folders.data` (as `npm start` opens it), delivering to one
 * follower on `remote`, whose inbox answers 500; retries and circuit breaker in milliseconds.
 */
async function setUp(heldActivityTtl: { seconds: number }) {
  const log = await captureLog();
  const folders = heraldFolders();
  const backends = await openBackends(
    { dataDir: folders.data },
    { queue: { pollInterval: { milliseconds: 20 } } },
  );
  const remote = await startFakeRemote({ mode: "down-500" });
  const stop = new AbortController();
  onTestFinished(async () => {
    stop.abort();
    await remote.close();
    await backends.close();
  });
  const { followers } = backends;
  await followers.add({
    id: remote.actorUrl(),
    inbox: remote.inboxUrl(),
    sharedInbox: remote.sharedInbox,
    followId: new URL(`${remote.actorUrl().href}#follow`),
    createdAt: PUBLISHED,
  });
  const options = {
    origin: ORIGIN,
    username: "news",
    allowPrivateAddress: true,
    retry: { initialDelay: { milliseconds: 20 }, maxDelay: { milliseconds: 100 }, maxAttempts: 16 },
    circuitBreaker: { recoveryDelay: { milliseconds: 300 }, heldActivityTtl },
  };
  const federation = buildFederation(options, {
    store: memoryArticleStore([]),
    kv: backends.kv,
    queue: backends.queue,
    keys: await accountKeys(),
    followers,
  });
  void federation.startQueue(undefined, { signal: stop.signal });
  const publish = createFederationPublisher(
    federation,
    { firstScan: async () => undefined, unreachable: () => unreachableOrigins(backends.kv) },
    options,
  );
  return { log, folders, kv: backends.kv, remote, publish };
}

describe("A follower server failing for longer than deliveries are held", () => {
  it("is reported once, with its host and since when, and new posts skip it", async () => {
    const { log, folders, kv, remote, publish } = await setUp({ seconds: 1 });
    const started = new Date();
    await publish([created(makeArticle({ id: "story-1", slug: "story-1" }), 1)]);
    await expect.poll(() => unreachableServers(kv), { timeout: 10_000 }).toHaveLength(1);
    const [server] = await unreachableServers(kv);
    expect(server?.origin.href).toBe(remote.origin.href);
    expect(server?.since.getTime()).toBeGreaterThanOrEqual(started.getTime());
    const stopped = log.filter((record) => message(record).startsWith("Stopped delivering"));
    expect(stopped.map(message)).toEqual([
      `Stopped delivering to ${remote.host}: unreachable since ${server?.since.toISOString()}, longer than deliveries are retried; its followers stay, and get posts again once it answers.`,
    ]);
    // Five tries in a row opened the circuit; probes, then nothing.
    const tried = remote.received().length;
    expect(tried).toBeGreaterThanOrEqual(5);

    // The server is back, but given up on: the next story is not even queued for it.
    remote.setMode("ok");
    await publish([created(makeArticle({ id: "story-2", slug: "story-2" }), 2)]);
    expect(log.map(message)).toContain(
      `Queued Create of story-2 for followers, not for those on ${remote.host} (unreachable).`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(remote.received().length).toBe(tried);

    const { stdout } = await doctor(folders, new URL("http://127.0.0.1:9"));
    expect(stdout).toContain(
      `warn  Server ${remote.host}: unreachable since ${server?.since.toISOString()}: new posts skip it until ${server?.until.toISOString()}`,
    );
  });

  it("is delivered to again once it answers a held delivery", async () => {
    const { log, kv, remote, publish } = await setUp({ seconds: 60 });
    await publish([created(makeArticle({ id: "story-1", slug: "story-1" }), 1)]);
    await expect
      .poll(() => log.map(message), { timeout: 10_000 })
      .toContainEqual(`Deliveries to ${remote.host} paused: it kept failing; trying again later.`);
    // As if an earlier story had been given up on.
    await markUnreachable(kv, remote.origin, new Date());
    remote.setMode("ok");
    await expect.poll(() => unreachableServers(kv), { timeout: 10_000 }).toEqual([]);
    expect(log.map(message)).toContain(
      `${remote.host} is reachable again: new posts go to it again.`,
    );
  });
});

describe("onPermanentFailure()", () => {
  it("checks every follower behind a gone shared inbox, though the delivery named one", async () => {
    const db = new DatabaseSync(":memory:");
    onTestFinished(() => db.close());
    const followers = openSqliteFollowerStore(db);
    const sharedInbox = new URL("https://gone.test/inbox");
    for (const name of ["alice", "bob", "carol"]) {
      await followers.add({
        id: new URL(`https://gone.test/users/${name}`),
        inbox: new URL(`https://gone.test/users/${name}/inbox`),
        sharedInbox,
        followId: new URL(`https://gone.test/follows/${name}`),
        createdAt: PUBLISHED,
      });
    }
    const handle = onPermanentFailure({ followers, kv: new MemoryKvStore(), identifier: "news" });
    // Every actor there answers 410 too.
    const loader = async (url: string): Promise<never> => {
      throw new FetchError(new URL(url), "gone", new Response(null, { status: 410 }));
    };
    const ctx = { getDocumentLoader: async () => loader } as unknown as Context<void>;
    await handle(ctx, {
      reason: "http",
      inbox: sharedInbox,
      statusCode: 410,
      // A delivery to followers names one of them per inbox (`dispatchFollowers()`).
      actorIds: [new URL("https://gone.test/users/alice")],
      activity: undefined as unknown as Activity,
      error: undefined as unknown as SendActivityError,
    });
    expect(await followers.count()).toBe(0);
  });
});
