import { DatabaseSync } from "node:sqlite";
import { type Federation, MemoryKvStore } from "@fedify/fedify";
import { createFederation as createMockFederation } from "@fedify/testing";
import { Move, Update } from "@fedify/vocab";
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { openSqliteFollowerStore } from "../../src/backends/sqlite/followers.ts";
import {
  accountActor,
  type FederationOptions,
  registerFederation,
} from "../../src/federation/federation.ts";
import type { AccountKeys } from "../../src/federation/keys.ts";
import {
  readMovedTo,
  resolveAccount,
  resolveAliases,
  saveMovedTo,
  toMove,
} from "../../src/federation/migration.ts";
import { announceProfileChange } from "../../src/federation/profile-update.ts";
import { startFakeRemote } from "../helpers/fake-remote.ts";
import { throwawayCert } from "../helpers/tls.ts";
import { accountKeys, memoryArticleStore, ORIGIN } from "./fixtures.ts";

let keys: AccountKeys;
beforeAll(async () => {
  keys = await accountKeys();
});

const NEW_ACCOUNT = new URL("https://new.test/users/news");

function setUp(options: Partial<FederationOptions> = {}) {
  const kv = new MemoryKvStore();
  const federation = createMockFederation<void>({ contextData: undefined, origin: ORIGIN.href });
  const federationOptions: FederationOptions = { origin: ORIGIN, username: "news", ...options };
  registerFederation(federation as unknown as Federation<void>, federationOptions, {
    store: memoryArticleStore([]),
    kv,
    queue: { enqueue: async () => {}, listen: async () => {} },
    keys,
    followers: openSqliteFollowerStore(new DatabaseSync(":memory:")),
  });
  const ctx = federation.createContext(ORIGIN, undefined);
  const actor = () => accountActor(ctx, federationOptions, { kv, keys });
  return { federation, ctx, kv, actor };
}

/** A fake remote over https, its certificate trusted by this process until the test ends. */
async function fakeRemote() {
  const tls = throwawayCert();
  const remote = await startFakeRemote({ users: ["carol"], tls });
  const before = getGlobalDispatcher();
  setGlobalDispatcher(new Agent({ connect: { ca: tls.cert } }));
  onTestFinished(async () => {
    setGlobalDispatcher(before);
    await remote.close();
  });
  return remote;
}

describe("the actor's aliases and movedTo", () => {
  it("lists the aliases as alsoKnownAs and has no movedTo before a move", async () => {
    const old = new URL("https://old.test/users/news");
    const actor = await setUp({ profile: { aliases: [old] } }).ctx.getActor("news");
    expect(actor?.aliasIds).toEqual([old]);
    expect(actor?.successorId).toBeNull();
  });

  it("serves movedTo as soon as it is saved in the KV store", async () => {
    const { ctx, kv } = setUp();
    await saveMovedTo(kv, NEW_ACCOUNT);
    expect(await readMovedTo(kv)).toEqual(NEW_ACCOUNT);
    expect((await ctx.getActor("news"))?.successorId).toEqual(NEW_ACCOUNT);
  });
});

describe("toMove()", () => {
  it("moves the actor itself to the target, addressed to its followers, with a stable id", () => {
    const { ctx } = setUp();
    const move = toMove(ctx, "news", NEW_ACCOUNT);
    expect(move).toBeInstanceOf(Move);
    expect(move.actorId?.href).toBe("https://news.test/users/news");
    expect(move.objectId?.href).toBe("https://news.test/users/news");
    expect(move.targetId).toEqual(NEW_ACCOUNT);
    expect(move.toIds).toEqual([new URL("https://news.test/users/news/followers")]);
    expect(move.id).toEqual(toMove(ctx, "news", NEW_ACCOUNT).id);
  });
});

describe("resolveAccount()", () => {
  it("takes an actor URL as it is", async () => {
    expect(await resolveAccount("https://old.test/users/news")).toEqual(
      new URL("https://old.test/users/news"),
    );
  });

  it("finds the actor of a handle with WebFinger over https, with or without the leading @", async () => {
    const remote = await fakeRemote();
    const options = { allowPrivateAddress: true };
    expect(await resolveAccount(`@${remote.handle("carol")}`, options)).toEqual(
      remote.actorUrl("carol"),
    );
    expect(await resolveAccount(remote.handle("carol"), options)).toEqual(remote.actorUrl("carol"));
  });

  it("says why a handle cannot be found", async () => {
    const remote = await fakeRemote();
    await expect(
      resolveAccount(`@nobody@${remote.host}`, { allowPrivateAddress: true }),
    ).rejects.toThrow(`WebFinger for acct:nobody@${remote.host} answered HTTP 404.`);
    await expect(resolveAccount("nobody")).rejects.toThrow("neither a URL nor a @user@host");
  });

  it("looks up no loopback or private host unless ALLOW_PRIVATE_ADDRESS says so", async () => {
    const remote = await fakeRemote();
    await expect(resolveAccount(`@${remote.handle("carol")}`)).rejects.toThrow(
      `WebFinger for acct:${remote.handle("carol")} failed`,
    );
    expect(remote.requests()).toEqual([]);
  });
});

describe("resolveAliases()", () => {
  it("leaves out the aliases it cannot resolve and keeps the rest in order", async () => {
    const remote = await fakeRemote();
    const aliases = await resolveAliases(
      ["https://old.test/users/news", `@nobody@${remote.host}`, `@carol@${remote.host}`],
      { allowPrivateAddress: true },
    );
    expect(aliases).toEqual([new URL("https://old.test/users/news"), remote.actorUrl("carol")]);
  });
});

describe("announceProfileChange()", () => {
  it("remembers the first profile without sending anything", async () => {
    const { federation, ctx, kv, actor } = setUp();
    expect(await announceProfileChange(ctx, kv, "news", await actor())).toBe("first");
    expect(await announceProfileChange(ctx, kv, "news", await actor())).toBe("unchanged");
    expect(federation.sentActivities).toEqual([]);
  });

  it("sends one Update of the actor to the followers when the profile changed", async () => {
    const { federation, ctx, kv, actor } = setUp();
    await announceProfileChange(ctx, kv, "news", await actor());
    await saveMovedTo(kv, NEW_ACCOUNT);
    expect(await announceProfileChange(ctx, kv, "news", await actor())).toBe("sent");
    expect(await announceProfileChange(ctx, kv, "news", await actor())).toBe("unchanged");
    expect(federation.sentActivities).toHaveLength(1);
    const [sent] = federation.sentActivities;
    expect(sent?.activity).toBeInstanceOf(Update);
    expect(sent?.activity.ccIds).toEqual([new URL("https://news.test/users/news/followers")]);
    const object = await sent?.activity.getObject();
    expect(object?.id?.href).toBe("https://news.test/users/news");
    expect((object as { successorId?: URL | null }).successorId).toEqual(NEW_ACCOUNT);
  });

  it("tells a changed display name apart from an unchanged one", async () => {
    const first = setUp({ profile: { name: "Nachrichten" } });
    await announceProfileChange(first.ctx, first.kv, "news", await first.actor());
    const renamed = setUp({ profile: { name: "Neue Nachrichten" } });
    const kv = first.kv;
    const actor = await renamed.actor();
    expect(await announceProfileChange(renamed.ctx, kv, "news", actor)).toBe("sent");
  });
});
