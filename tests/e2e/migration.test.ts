import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { type FakeRemote, type JsonObject, startFakeRemote } from "../helpers/fake-remote.ts";
import {
  type HeraldFolders,
  type HeraldProcess,
  heraldFolders,
  startHerald,
} from "../helpers/herald-process.ts";

const moveCli = fileURLToPath(new URL("../../src/cli/move.ts", import.meta.url));

/** A fake Mastodon with `alice` (who follows Herald) and `bob` (the account to move to). */
async function fediverse(herald: HeraldProcess, options: { bobAliases?: URL[] } = {}) {
  const remote = await startFakeRemote({
    users: ["alice", "bob"],
    aliases: { bob: options.bobAliases ?? [] },
  });
  onTestFinished(() => remote.close());
  const { actorUrl } = await remote.lookup(`news@${herald.origin.host}`);
  await remote.follow("alice", actorUrl);
  await remote.waitFor((activity) => activity.type === "Accept", { timeoutMs: 15_000 });
  return { remote, actorUrl };
}

/** `npm run move -- …` with the environment Herald runs with. */
function runMove(
  folders: HeraldFolders,
  herald: HeraldProcess,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [moveCli, ...args], {
    cwd: folders.root,
    env: {
      ...process.env,
      PORT: String(herald.port),
      PUBLIC_URL: herald.origin.origin,
      ALLOW_PRIVATE_ADDRESS: "true",
      ARTICLES_DIR: folders.articles,
      DATA_DIR: folders.data,
      KEYS_DIR: folders.keys,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

const ofType = (remote: FakeRemote, type: string) =>
  remote.received({ type, verified: true }).map((r) => r.activity as JsonObject);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const asList = (value: unknown) => (Array.isArray(value) ? value : value == null ? [] : [value]);

describe("Moving the account, end to end", () => {
  it("refuses to move to an account that does not list Herald as an alias", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    const { remote, actorUrl } = await fediverse(herald);

    const result = await runMove(folders, herald, [`@${remote.handle("bob")}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`add ${actorUrl.href} as an alias`);
    await pause(1500);
    expect(ofType(remote, "Move")).toEqual([]);
    expect((await remote.fetchObject(actorUrl)).movedTo).toBeUndefined();

    const usage = await runMove(folders, herald, []);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Usage: npm run move -- @new@host");
  });

  it("sends followers a Move to the new account and serves movedTo once the alias is there", async () => {
    const folders = heraldFolders();
    const herald = await startHerald(folders);
    const { remote, actorUrl } = await fediverse(herald);
    const bob = remote.actorUrl("bob");
    remote.setAliases("bob", [actorUrl]);

    const dry = await runMove(folders, herald, [`@${remote.handle("bob")}`, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("1 follower would be asked");
    expect((await remote.fetchObject(actorUrl)).movedTo).toBeUndefined();

    const result = await runMove(folders, herald, [`@${remote.handle("bob")}`]);
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
    const again = await startHerald(folders, { port: herald.port });
    await again.waitForLog(/This account has moved to/);
    expect(await (await fetch(again.origin)).text()).toContain(
      `has moved to <a href="${bob.href}">`,
    );
    await pause(1500);
    expect(ofType(remote, "Update")).toHaveLength(1);
    expect(ofType(remote, "Move")).toHaveLength(1);
  });

  it("lists ALIASES, given as URLs or handles, as alsoKnownAs", async () => {
    const remote = await startFakeRemote({ users: ["carol"] });
    onTestFinished(() => remote.close());
    const folders = heraldFolders();
    const herald = await startHerald(folders, {
      env: {
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
    let herald = await startHerald(folders, { env: { ACCOUNT_NAME: "Nachrichten" } });
    const { remote, actorUrl } = await fediverse(herald);

    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, {
      port: herald.port,
      env: { ACCOUNT_NAME: "Nachrichten" },
    });
    await pause(2000);
    expect(ofType(remote, "Update")).toEqual([]);

    expect(await herald.stop()).toBe(0);
    herald = await startHerald(folders, {
      port: herald.port,
      env: {
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
    let herald = await startHerald(folders, { env: { ACCOUNT_AVATAR: avatar } });
    const { remote, actorUrl } = await fediverse(herald);
    const iconOf = async () =>
      String(((await remote.fetchObject(actorUrl)).icon as JsonObject).url);
    const first = await iconOf();
    expect(first).toMatch(/\/account\/avatar\.png\?v=[0-9a-f]{12}$/);
    expect(await (await fetch(first)).text()).toBe("first picture");

    expect(await herald.stop()).toBe(0);
    writeFileSync(avatar, "second picture");
    herald = await startHerald(folders, { port: herald.port, env: { ACCOUNT_AVATAR: avatar } });
    const updated = await remote.waitFor((a) => a.type === "Update", { timeoutMs: 15_000 });
    const icon = ((updated.activity as JsonObject).object as JsonObject).icon as JsonObject;
    expect(icon.url).not.toBe(first);
    expect(icon.url).toBe(await iconOf());
    expect(await (await fetch(String(icon.url))).text()).toBe("second picture");
  });
});
