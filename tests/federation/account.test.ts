import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { openBackends } from "../../src/backends/open.ts";
import { loadConfig } from "../../src/config.ts";
import { openAccount } from "../../src/federation/account.ts";
import { makeArticle } from "../helpers/article-fixture.ts";
import { created } from "./fixtures.ts";

/** A configuration on fresh folders, as `npm start` and `npm run move` read it. */
async function freshConfig(env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), "herald-account-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  for (const sub of ["data", "keys", "articles"]) await mkdir(join(dir, sub));
  return loadConfig({
    PUBLIC_URL: "https://news.test",
    DATA_DIR: join(dir, "data"),
    KEYS_DIR: join(dir, "keys"),
    ARTICLES_DIR: join(dir, "articles"),
    ...env,
  });
}

describe("openAccount()", () => {
  it("names the account as the configuration does", async () => {
    const config = await freshConfig({ ACCOUNT_USERNAME: "desk" });
    const backends = await openBackends(config);
    onTestFinished(() => backends.close());
    const account = await openAccount(config, backends);
    expect(account.handle).toBe("@desk@news.test");
    expect(account.actor.href).toBe("https://news.test/users/desk");
    expect(account.options.username).toBe("desk");
    expect(account.publisher.name).toBe("federation");
    expect(account.movedTo).toBeUndefined();
  });

  it("records what its publisher sends in the delivery ledger, for every command that opens it", async () => {
    const config = await freshConfig();
    const backends = await openBackends(config);
    onTestFinished(() => backends.close());
    const account = await openAccount(config, backends);
    await backends.followers.add({
      id: new URL("https://remote.test/users/alice"),
      inbox: new URL("https://remote.test/users/alice/inbox"),
      sharedInbox: new URL("https://remote.test/inbox"),
      followId: new URL("https://remote.test/follows/1"),
      createdAt: new Date("2026-03-01T09:00:00.000Z"),
    });
    await account.publisher.publish([created(makeArticle(), 1)]);
    const rows = await backends.ledger.rows();
    expect(rows.map((row) => [row.activityType, row.inbox, row.state])).toEqual([
      ["Create", "https://remote.test/inbox", "pending"],
    ]);
  });

  it("keeps replies, likes and boosts in the backends' interaction store", async () => {
    const config = await freshConfig();
    const backends = await openBackends(config);
    onTestFinished(() => backends.close());
    const account = await openAccount(config, backends);
    const article = makeArticle();
    await account.interactions.add(article.id, {
      kind: "like",
      id: "https://remote.test/likes/1",
      actor: { id: "https://remote.test/users/alice" },
      published: "2026-03-01T11:00:00.000Z",
    });
    const reopened = await backends.openInteractions({});
    expect((await reopened.counts(article.id)).likes).toBe(1);
  });
});
