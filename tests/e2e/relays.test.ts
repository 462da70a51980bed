import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { doctor } from "../helpers/doctor.ts";
import {
  AS_CONTEXT,
  type FakeRemote,
  type JsonObject,
  PUBLIC_COLLECTION,
  startFakeRemote,
} from "../helpers/fake-remote.ts";
import { type HeraldProcess, heraldFolders, startHerald } from "../helpers/herald-process.ts";

/** A fake server whose user `relay` plays the relay. */
async function relayServer(): Promise<FakeRemote> {
  const remote = await startFakeRemote({ users: ["relay"] });
  onTestFinished(() => remote.close());
  return remote;
}

const verified = (remote: FakeRemote, type: string) =>
  remote.received({ type, verified: true }).map((r) => r.activity as JsonObject);

/** The relay answers Herald's Follow with `type` (Accept or Reject), the Follow embedded. */
async function answer(
  remote: FakeRemote,
  herald: HeraldProcess,
  follow: JsonObject,
  type: "Accept" | "Reject",
): Promise<void> {
  const { "@context": _context, ...embedded } = follow;
  const response = await remote.post("relay", new URL("/users/news/inbox", herald.origin), {
    "@context": AS_CONTEXT,
    id: `${remote.actorUrl("relay").href}#${type.toLowerCase()}s/1`,
    type,
    actor: remote.actorUrl("relay").href,
    object: embedded,
  });
  expect(response.status).toBe(202);
}

const waitForFollow = async (remote: FakeRemote) =>
  (await remote.waitFor((a) => a.type === "Follow", { timeoutMs: 15_000 })).activity as JsonObject;

/** Waits long enough for a delivery that should not come, then returns what came. */
async function afterAWhile<T>(read: () => T): Promise<T> {
  await new Promise((resolve) => setTimeout(resolve, 2500));
  return read();
}

// Each test starts Herald up to four times.
describe("Relays (RELAYS), end to end", { timeout: 60_000 }, () => {
  it("subscribes to a Mastodon-style relay, and sends it public posts once it accepts", async () => {
    const remote = await relayServer();
    const folders = heraldFolders();
    const relay = remote.actorUrl("relay");
    const herald = await startHerald(folders, { env: { RELAYS: relay.href } });
    const actor = new URL("/users/news", herald.origin).href;

    const follow = await waitForFollow(remote);
    expect(follow.actor).toBe(actor);
    expect(follow.object).toBe(PUBLIC_COLLECTION);
    const followRequest = remote.received({ type: "Follow", verified: true })[0];
    expect(followRequest?.path).toBe("/users/relay/inbox");
    expect(followRequest?.signer?.href).toBe(actor);

    await answer(remote, herald, follow, "Accept");
    await herald.waitForLog(
      new RegExp(`Relay ${relay.href.replaceAll(".", "\\.")} accepted the subscription\\.`),
    );

    writeFileSync(join(folders.articles, "a.md"), "# Relayed\n\nFor the whole fediverse.");
    const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    expect(created.path).toBe("/users/relay/inbox");
    expect(created.signer?.href).toBe(actor);
    expect(((created.activity as JsonObject).object as JsonObject).name).toBe("Relayed");
    // Mastodon checks a relayed activity by its Linked Data signature, not by fetching it.
    expect((created.activity as JsonObject).signature).toMatchObject({
      type: "RsaSignature2017",
      creator: `${actor}#main-key`,
    });
    expect(herald.output()).toContain("Queued Create of a for followers and 1 relay.");
    expect(await afterAWhile(() => verified(remote, "Create"))).toHaveLength(1);

    const { stdout } = await doctor(folders, herald.origin, undefined, { RELAYS: relay.href });
    expect(stdout).toMatch(
      /^ok +Relay http:\/\/\S+\/users\/relay: accepted since .* \(mastodon style\)$/m,
    );
  });

  it("takes a Mastodon-style relay by its inbox URL, as Mastodon's admin page does", async () => {
    const remote = await relayServer();
    const folders = heraldFolders();
    const herald = await startHerald(folders, { env: { RELAYS: remote.inboxUrl("relay").href } });
    const follow = await waitForFollow(remote);
    expect(follow.object).toBe(PUBLIC_COLLECTION);
    await answer(remote, herald, follow, "Accept");
    await herald.waitForLog(/accepted the subscription\./);
    writeFileSync(join(folders.articles, "a.md"), "# By inbox\n\nStill relayed.");
    const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    expect(created.path).toBe("/users/relay/inbox");
  });

  it("follows a LitePub-style relay's actor, and sends each post once when the relay follows back", async () => {
    const remote = await relayServer();
    const folders = heraldFolders();
    const relay = remote.actorUrl("relay");
    const herald = await startHerald(folders, { env: { RELAYS: `litepub:${relay.href}` } });
    const actor = new URL("/users/news", herald.origin);

    const follow = await waitForFollow(remote);
    expect(follow.object).toBe(relay.href);
    await answer(remote, herald, follow, "Accept");
    await herald.waitForLog(/accepted the subscription\./);
    // The relay follows back and becomes a follower, delivered to at its shared inbox.
    await remote.follow("relay", actor);
    await remote.waitFor((a) => a.type === "Accept", { timeoutMs: 15_000 });

    writeFileSync(join(folders.articles, "a.md"), "# Once\n\nNot twice.");
    const created = await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    expect(created.path).toBe("/inbox");
    expect(await afterAWhile(() => verified(remote, "Create"))).toHaveLength(1);
  });

  it("sends nothing to a relay that rejected the subscription, and does not ask it again", async () => {
    const remote = await relayServer();
    const folders = heraldFolders();
    const relay = remote.actorUrl("relay");
    let herald = await startHerald(folders, { env: { RELAYS: relay.href } });

    await answer(remote, herald, await waitForFollow(remote), "Reject");
    await herald.waitForLog(/rejected the subscription: it gets no posts\./);
    writeFileSync(join(folders.articles, "a.md"), "# Not relayed\n\nNobody asked.");
    await herald.waitForLog(/Queued Create of a for followers\./);

    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, { port: herald.port, env: { RELAYS: relay.href } });
    await herald.waitForLog(/rejected the subscription; not asking again/);
    expect(herald.output()).toMatch(/Relay: +\S+: rejected since/);
    expect(await afterAWhile(() => verified(remote, "Create"))).toEqual([]);
    expect(verified(remote, "Follow")).toHaveLength(1);
  });

  it("re-sends the same Follow while pending, none once accepted, and an Undo once removed", async () => {
    const remote = await relayServer();
    const folders = heraldFolders();
    const relay = remote.actorUrl("relay");
    const env = { RELAYS: `${relay.href}, ` };
    let herald = await startHerald(folders, { env });
    const follow = await waitForFollow(remote);

    // Restarted before the relay answered: the same Follow again.
    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, { port: herald.port, env });
    await herald.waitForLog(/Asked relay .* waiting for its answer\./);
    await remote.waitFor((_a, r) => r.seq > 1 && r.type === "Follow", { timeoutMs: 15_000 });
    expect(verified(remote, "Follow").map((f) => f.id)).toEqual([follow.id, follow.id]);

    await answer(remote, herald, follow, "Accept");
    await herald.waitForLog(/accepted the subscription\./);
    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, { port: herald.port, env });
    expect(herald.output()).toMatch(/Relay: +\S+: accepted since/);
    writeFileSync(join(folders.articles, "a.md"), "# After the restart\n\nStill relayed.");
    await remote.waitFor((a) => a.type === "Create", { timeoutMs: 15_000 });
    expect(verified(remote, "Follow")).toHaveLength(2);

    // Taken out of RELAYS: one Undo of that Follow, then nothing more for the relay.
    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, { port: herald.port });
    const undo = await remote.waitFor((a) => a.type === "Undo", { timeoutMs: 15_000 });
    const undone = (undo.activity as JsonObject).object as JsonObject;
    expect(undone.id).toBe(follow.id);
    expect(undone.object).toBe(PUBLIC_COLLECTION);
    await herald.waitForLog(/Unsubscribed from relay .*: it is no longer in RELAYS\./);
    writeFileSync(join(folders.articles, "b.md"), "# Unrelayed\n\nNo relay any more.");
    await herald.waitForLog(/Queued Create of b for followers\./);
    expect(await afterAWhile(() => verified(remote, "Create"))).toHaveLength(1);

    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, { port: herald.port });
    expect(await afterAWhile(() => verified(remote, "Undo"))).toHaveLength(1);
  });
});
