import { describe, expect, it, onTestFinished } from "vitest";
import {
  type FakeRemote,
  type JsonObject,
  startFakeRemote,
  type Tamper,
} from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";
import { prng } from "../helpers/prng.ts";
import { postRaw } from "../helpers/raw-post.ts";

const AS = "https://www.w3.org/ns/activitystreams";

async function remote(users = ["alice"]): Promise<FakeRemote> {
  const started = await startFakeRemote({ users });
  onTestFinished(() => started.close());
  return started;
}

/** The followers collection's `totalItems`, as any server sees it. */
async function followerCount(origin: URL): Promise<number> {
  const response = await fetch(new URL("/users/news/followers", origin), {
    headers: { Accept: "application/activity+json" },
  });
  return Number(((await response.json()) as { totalItems?: number }).totalItems);
}

/** Generated bodies: broken JSON, wrong types, odd nesting and values, mutated activities. */
function fuzzBodies(seed: number, count: number, valid: () => JsonObject): string[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const junk = () =>
    pick<unknown>([
      null,
      true,
      0,
      -1,
      1e308,
      "",
      "x".repeat(Math.floor(random() * 5000)),
      "\u0000\uFFFF\uD800",
      "javascript:alert(1)",
      "http://127.0.0.1:1/",
      [],
      {},
      { "@id": 5 },
      [[[[[]]]]],
      { type: "Follow" },
    ]);
  const nested = (depth: number): unknown => (depth === 0 ? {} : { object: nested(depth - 1) });
  const mutate = (): Record<string, unknown> => {
    const activity: Record<string, unknown> = { ...valid() };
    const keys = ["@context", "id", "type", "actor", "object", "to", "cc", "published"];
    for (let i = 0, n = 1 + Math.floor(random() * 3); i < n; i++) {
      const key = pick(keys);
      const change = random();
      if (change < 0.3) delete activity[key];
      else if (change < 0.8) activity[key] = junk();
      else activity[key] = nested(50 + Math.floor(random() * 200));
    }
    if (random() < 0.2) activity.type = pick(["Undo", "Delete", "Create", "Accept", "Like", "X"]);
    return activity;
  };
  return Array.from({ length: count }, () => {
    const kind = random();
    if (kind < 0.15) {
      return Array.from({ length: Math.floor(random() * 200) }, () =>
        String.fromCharCode(Math.floor(random() * 0x3000)),
      ).join("");
    }
    const text = JSON.stringify(kind < 0.3 ? junk() : mutate());
    // Some cut short, so they are not JSON at all.
    return kind > 0.9 ? text.slice(0, Math.floor(random() * text.length)) : text;
  });
}

describe("Hostile input at the inbox, against a running Herald", () => {
  it("answers each kind of forged, replayed, misdirected or malformed activity with a 4xx or ignores it, changing nothing", async () => {
    const herald = await startHerald(heraldFolders());
    const inbox = new URL("/users/news/inbox", herald.origin);
    const sharedInbox = new URL("/inbox", herald.origin);
    const actor = new URL("/users/news", herald.origin);
    const friend = await remote(["alice"]);
    const mallory = await remote(["mallory"]);
    await friend.follow("alice", actor);
    await friend.waitFor((a) => a.type === "Accept", { timeoutMs: 15_000 });
    expect(await followerCount(herald.origin)).toBe(1);

    const follow = (from: FakeRemote, user: string, object = actor.href): JsonObject => ({
      "@context": AS,
      id: `${from.actorUrl(user).href}/follows/${crypto.randomUUID()}`,
      type: "Follow",
      actor: from.actorUrl(user).href,
      object,
    });
    const cases: { name: string; send: () => Promise<number>; expect: (s: number) => boolean }[] = [
      {
        name: "invalid JSON",
        send: async () => (await friend.post("alice", inbox, "{not json")).status,
        expect: (s) => s === 400,
      },
      {
        name: "a JSON array",
        send: async () => (await friend.post("alice", sharedInbox, "[1,2,3]")).status,
        expect: (s) => s >= 400 && s < 500,
      },
      {
        name: "wrong types (actor a number, object a list)",
        send: async () =>
          (
            await friend.post("alice", inbox, {
              ...follow(friend, "alice"),
              actor: 42,
              object: [1, 2],
            })
          ).status,
        expect: (s) => s >= 400 && s < 500,
      },
      {
        name: "a 10 MiB body",
        // On a raw socket: the early 413 and close must not fail the client with EPIPE.
        send: async () => (await postRaw(inbox, 10 * 1024 * 1024)).status ?? 0,
        expect: (s) => s === 413,
      },
      {
        name: "unsigned",
        send: async () =>
          (await mallory.post("mallory", inbox, follow(mallory, "mallory"), { unsigned: true }))
            .status,
        expect: (s) => s === 401,
      },
      {
        name: "a forged signature (signed with another key)",
        send: async () =>
          (
            await mallory.post("mallory", inbox, follow(friend, "alice"), {
              keyId: friend.keyId("alice").href,
            })
          ).status,
        expect: (s) => s === 401,
      },
      {
        name: "a replayed signature (Date two hours old)",
        send: async () =>
          (
            await mallory.post("mallory", inbox, follow(mallory, "mallory"), {
              date: new Date(Date.now() - 2 * 60 * 60 * 1000),
            })
          ).status,
        expect: (s) => s === 401,
      },
      {
        name: "a body changed after signing",
        send: async () => {
          const signed = follow(mallory, "mallory");
          const changed = JSON.stringify({ ...signed, actor: friend.actorUrl("alice").href });
          return (await mallory.post("mallory", inbox, signed, { bodyAfterSigning: changed }))
            .status;
        },
        expect: (s) => s >= 400 && s < 500,
      },
      {
        name: "an activity whose actor is not the signer (key from another host)",
        send: async () => (await mallory.post("mallory", inbox, follow(friend, "alice"))).status,
        expect: (s) => s === 401,
      },
      {
        name: "a Follow of someone else (not addressed to us)",
        send: async () =>
          (
            await mallory.post(
              "mallory",
              sharedInbox,
              follow(mallory, "mallory", "https://elsewhere.test/users/bob"),
            )
          ).status,
        expect: (s) => s === 202 || (s >= 400 && s < 500),
      },
      {
        name: "an Undo of alice's follow, signed by mallory",
        send: async () =>
          (
            await mallory.post("mallory", inbox, {
              "@context": AS,
              id: `${mallory.actorUrl("mallory").href}/undo/1`,
              type: "Undo",
              actor: mallory.actorUrl("mallory").href,
              object: follow(friend, "alice"),
            })
          ).status,
        expect: (s) => s === 202 || (s >= 400 && s < 500),
      },
    ];
    for (const c of cases) {
      const status = await c.send();
      expect(c.expect(status), `${c.name}: answered ${status}`).toBe(true);
    }
    // Wait out the queue, then: still alive, only alice follows, nobody else got an Accept.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await fetch(new URL("/healthz", herald.origin))).status).toBe(200);
    expect(await followerCount(herald.origin)).toBe(1);
    expect(mallory.received({ type: "Accept" })).toHaveLength(0);
    expect(friend.received({ type: "Accept" })).toHaveLength(1);
  });

  it("takes 10,000 fuzzed bodies without a 5xx, a crash or a change of state", async () => {
    const herald = await startHerald(heraldFolders(), {
      env: { INBOX_RATE_LIMIT: "1000000" },
    });
    const inboxes = [new URL("/users/news/inbox", herald.origin), new URL("/inbox", herald.origin)];
    const fuzzer = await remote(["fuzz"]);
    const valid = (): JsonObject => ({
      "@context": AS,
      id: `${fuzzer.actorUrl("fuzz").href}/activities/${crypto.randomUUID()}`,
      type: "Follow",
      actor: fuzzer.actorUrl("fuzz").href,
      object: new URL("/users/news", herald.origin).href,
    });
    const bodies = fuzzBodies(20261128, 10_000, valid);
    const random = prng(7);
    const statuses = new Map<number, number>();
    let next = 0;
    const bad: string[] = [];
    const worker = async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        // Signed over a valid activity, then the fuzzed body sent: the signature never holds.
        const tamper: Tamper = random() < 0.5 ? { unsigned: true } : { bodyAfterSigning: body };
        const inbox = inboxes[next % 2] as URL;
        const { status } = await fuzzer.post(
          "fuzz",
          inbox,
          tamper.unsigned ? body : valid(),
          tamper,
        );
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 500 && bad.length < 3)
          bad.push(`${status} ${JSON.stringify(tamper).slice(0, 300)} ${body.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(answered).toBe(10_000);
    const serverErrors = [...statuses].filter(([status]) => status >= 500 || status === 0);
    expect(serverErrors, `${JSON.stringify([...statuses])}\n${bad.join("\n")}`).toEqual([]);
    expect((await fetch(new URL("/healthz", herald.origin))).status).toBe(200);
    expect(await followerCount(herald.origin)).toBe(0);
    expect(fuzzer.received({ type: "Accept" })).toHaveLength(0);
  }, 120_000);

  it("answers 429 with Retry-After to a Follow flood from one server, and still serves others", async () => {
    // Every fake server is on 127.0.0.1, so the flood comes as through a proxy from an address
    // of its own: the limit per address would hold back the other server too.
    const herald = await startHerald(heraldFolders(), {
      env: { INBOX_RATE_LIMIT: "20", TRUST_PROXY: "loopback" },
    });
    const actor = new URL("/users/news", herald.origin);
    const flooder = await remote(Array.from({ length: 40 }, (_, i) => `u${i}`));
    const statuses = await Promise.all(
      flooder.users.map(async (user) => {
        const follow = {
          "@context": AS,
          id: `${flooder.actorUrl(user).href}/follows/1`,
          type: "Follow",
          actor: flooder.actorUrl(user).href,
          object: actor.href,
        };
        const result = await flooder.post(user, new URL("/inbox", herald.origin), follow, {
          headers: { "X-Forwarded-For": "192.0.2.1" },
        });
        return { status: result.status, retryAfter: result.headers["retry-after"] };
      }),
    );
    const limited = statuses.filter((s) => s.status === 429);
    expect(statuses.filter((s) => s.status === 202)).toHaveLength(20);
    expect(limited).toHaveLength(20);
    for (const s of limited) expect(Number(s.retryAfter)).toBeGreaterThan(0);
    // Another server is not held back by the flood.
    const other = await remote(["carol"]);
    await other.follow("carol", actor);
    await other.waitFor((a) => a.type === "Accept", { timeoutMs: 15_000 });
    await expect.poll(() => followerCount(herald.origin), { timeout: 10_000 }).toBe(21);
  });

  it("refuses by default to deliver to a follower on a private address", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { ALLOW_PRIVATE_ADDRESS: "false" } });
    const local = await remote(["alice"]);
    const status = (
      await local.post("alice", new URL("/inbox", herald.origin), {
        "@context": AS,
        id: `${local.actorUrl("alice").href}/follows/1`,
        type: "Follow",
        actor: local.actorUrl("alice").href,
        object: new URL("/users/news", herald.origin).href,
      })
    ).status;
    // Herald may not even fetch the key from 127.0.0.1: the signature cannot be checked.
    expect(status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(local.received()).toHaveLength(0);
    expect(await followerCount(herald.origin)).toBe(0);
  });
});
