import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import packageJson from "../../package.json" with { type: "json" };
import { runCli } from "../helpers/cli.ts";
import { type FakeRemote, type JsonObject, startFakeRemote } from "../helpers/fake-remote.ts";
import { type HeraldProcess, heraldFolders, startHerald } from "../helpers/herald-process.ts";
import { type ThrowawayCert, throwawayCert } from "../helpers/tls.ts";

/**
 * Herald (and `npm run move`) trusting a throwaway certificate, as a real server's is trusted:
 * handles are looked up over https, whatever `ALLOW_PRIVATE_ADDRESS` says.
 */
function trusting(tls: ThrowawayCert): Record<string, string> {
  return { NODE_EXTRA_CA_CERTS: tls.certFile };
}

/** A fake Mastodon over https with `alice` (who follows Herald) and `bob` (to move to). */
async function fediverse(herald: HeraldProcess, tls: ThrowawayCert) {
  const remote = await startFakeRemote({ users: ["alice", "bob"], tls });
  onTestFinished(() => remote.close());
  const { actorUrl } = await remote.lookup(`news@${herald.origin.host}`);
  await remote.follow("alice", actorUrl);
  await remote.waitFor((activity) => activity.type === "Accept", { timeoutMs: 15_000 });
  return { remote, actorUrl };
}

/** `npm run move -- …args` against `herald`, trusting its throwaway certificate. */
const runMove = (
  folders: Parameters<typeof runCli>[1],
  herald: HeraldProcess,
  args: string[],
  tls: ThrowawayCert,
) => runCli("move", folders, herald, args, trusting(tls));
const ofType = (remote: FakeRemote, type: string) =>
  remote.received({ type, verified: true }).map((r) => r.activity as JsonObject);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const asList = (value: unknown) => (Array.isArray(value) ? value : value == null ? [] : [value]);

describe("Moving the account, end to end", () => {
  it("refuses to move to an account that does not list Herald as an alias", async () => {
    const folders = heraldFolders();
    const tls = throwawayCert();
    const herald = await startHerald(folders, { env: trusting(tls) });
    const { remote, actorUrl } = await fediverse(herald, tls);

    const result = await runMove(folders, herald, [`@${remote.handle("bob")}`], tls);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`add ${actorUrl.href} as an alias`);
    await pause(1500);
    expect(ofType(remote, "Move")).toEqual([]);
    expect((await remote.fetchObject(actorUrl)).movedTo).toBeUndefined();

    const usage = await runMove(folders, herald, [], tls);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Usage: npm run move -- @new@host");
  });

  it("moves at once when run again after a refusal, the alias added meanwhile", async () => {
    const folders = heraldFolders();
    const tls = throwawayCert();
    const herald = await startHerald(folders, { env: trusting(tls) });
    const { remote, actorUrl } = await fediverse(herald, tls);

    const refused = await runMove(folders, herald, [`@${remote.handle("bob")}`], tls);
    expect(refused.code).toBe(1);
    remote.setAliases("bob", [actorUrl]);
    // Seconds later, well within the five minutes Fedify keeps a fetched document.
    const moved = await runMove(folders, herald, [`@${remote.handle("bob")}`], tls);
    expect(moved.stderr).toBe("");
    expect(moved.code).toBe(0);
    const bobFetches = remote
      .requests()
      .filter((r) => r.method === "GET" && r.url === new URL(remote.actorUrl("bob")).pathname);
    expect(bobFetches).toHaveLength(2);
    // `npm run move` says who it is, as the service does.
    const agents = new Set(remote.requests().map((r) => r.headers["user-agent"]));
    expect(agents).toEqual(new Set([`Herald/${packageJson.version} (+${herald.origin.origin})`]));
  }, 60_000);

  it("sends followers a Move to the new account and serves movedTo once the alias is there", async () => {
    const folders = heraldFolders();
    const tls = throwawayCert();
    const herald = await startHerald(folders, { env: trusting(tls) });
    const { remote, actorUrl } = await fediverse(herald, tls);
    const bob = remote.actorUrl("bob");
    remote.setAliases("bob", [actorUrl]);

    const dry = await runMove(folders, herald, [`@${remote.handle("bob")}`, "--dry-run"], tls);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("1 follower would be asked");
    expect((await remote.fetchObject(actorUrl)).movedTo).toBeUndefined();

    const result = await runMove(folders, herald, [`@${remote.handle("bob")}`], tls);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Queued a Move for 1 follower.");

    const moved = await remote.waitFor((a) => a.type === "Move", { timeoutMs: 15_000 });
    const move = moved.activity as JsonObject;
    expect(moved.signer?.href).toBe(actorUrl.href);
    expect(move.actor).toBe(actorUrl.href);
    expect(move.object).toBe(actorUrl.href);
    expect(move.target).toBe(bob.href);
    expect((await remote.fetchObject(actorUrl)).movedTo).toBe(bob.href);
    const update = await remote.waitFor((a) => a.type === "Update", { timeoutMs: 15_000 });
    expect(((update.activity as JsonObject).object as JsonObject).movedTo).toBe(bob.href);

    // The start-up log and the home page say so, and the restart announces nothing new.
    expect(await herald.stop()).toBe(0);
    const again = await startHerald(folders, { port: herald.port, env: trusting(tls) });
    await again.waitForLog(/This account has moved to/);
    expect(await (await fetch(again.origin)).text()).toContain(
      `has moved to <a href="${bob.href}">`,
    );
    await pause(1500);
    expect(ofType(remote, "Update")).toHaveLength(1);
    expect(ofType(remote, "Move")).toHaveLength(1);
  });

  it("lists ALIASES, given as URLs or handles, as alsoKnownAs", async () => {
    const tls = throwawayCert();
    const remote = await startFakeRemote({ users: ["carol"], tls });
    onTestFinished(() => remote.close());
    const folders = heraldFolders();
    const herald = await startHerald(folders, {
      env: {
        ...trusting(tls),
        ALIASES: `https://old.example/users/news, @${remote.handle("carol")} @nobody@${remote.host}`,
      },
    });
    const actor = await remote.fetchObject(new URL("/users/news", herald.origin));
    expect(asList(actor.alsoKnownAs)).toEqual([
      "https://old.example/users/news",
      remote.actorUrl("carol").href,
    ]);
    expect(herald.output()).toMatch(/ALIASES: left out @nobody@/);
  });

  it("sends one actor Update when the profile changed across a restart, and none when it did not", async () => {
    const folders = heraldFolders();
    const tls = throwawayCert();
    let herald = await startHerald(folders, {
      env: { ...trusting(tls), ACCOUNT_NAME: "Nachrichten" },
    });
    const { remote, actorUrl } = await fediverse(herald, tls);

    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, {
      port: herald.port,
      env: { ...trusting(tls), ACCOUNT_NAME: "Nachrichten" },
    });
    await pause(2000);
    expect(ofType(remote, "Update")).toEqual([]);

    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, {
      port: herald.port,
      env: {
        ...trusting(tls),
        ACCOUNT_NAME: "Neue Nachrichten",
        ACCOUNT_BIO: "Jetzt mit Bio.",
        ACCOUNT_AVATAR: "https://cdn.example/avatar.png",
      },
    });
    const updated = await remote.waitFor((a) => a.type === "Update", { timeoutMs: 15_000 });
    const object = (updated.activity as JsonObject).object as JsonObject;
    expect(updated.signer?.href).toBe(actorUrl.href);
    expect(object.id).toBe(actorUrl.href);
    expect(object.name).toBe("Neue Nachrichten");
    expect(object.summary).toBe("<p>Jetzt mit Bio.</p>");
    expect((object.icon as JsonObject).url).toBe("https://cdn.example/avatar.png");
    await pause(2000);
    expect(ofType(remote, "Update")).toHaveLength(1);
  });

  it("announces a new avatar picture saved over the old file: its URL changes with its bytes", async () => {
    const folders = heraldFolders();
    const avatar = join(folders.keys, "..", "avatar.png");
    writeFileSync(avatar, "first picture");
    const tls = throwawayCert();
    let herald = await startHerald(folders, { env: { ...trusting(tls), ACCOUNT_AVATAR: avatar } });
    const { remote, actorUrl } = await fediverse(herald, tls);
    const iconOf = async () =>
      String(((await remote.fetchObject(actorUrl)).icon as JsonObject).url);
    const first = await iconOf();
    expect(first).toMatch(/\/account\/avatar\.png\?v=[0-9a-f]{12}$/);
    expect(await (await fetch(first)).text()).toBe("first picture");

    expect(await herald.stop()).toBe(0);
    writeFileSync(avatar, "second picture");
    herald = await startHerald(folders, {
      port: herald.port,
      env: { ...trusting(tls), ACCOUNT_AVATAR: avatar },
    });
    const updated = await remote.waitFor((a) => a.type === "Update", { timeoutMs: 15_000 });
    const icon = ((updated.activity as JsonObject).object as JsonObject).icon as JsonObject;
    expect(icon.url).not.toBe(first);
    expect(icon.url).toBe(await iconOf());
    expect(await (await fetch(String(icon.url))).text()).toBe("second picture");
  });
});
