import { DatabaseSync } from "node:sqlite";
import { type Federation, type KvKey, type KvStore, MemoryKvStore } from "@fedify/fedify";
import { createFederation as createMockFederation } from "@fedify/testing";
import { Announce, Undo } from "@fedify/vocab";
import { beforeAll, describe, expect, it } from "vitest";
import type { ChangeEvent } from "../../../src/article.ts";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";
import type { AccountKeys } from "../../../src/federation/keys.ts";
import type { SectionAccounts } from "../../../src/federation/sections/accounts.ts";
import { createSectionsPublisher } from "../../../src/federation/sections/publisher.ts";
import { makeArticle } from "../../helpers/article-fixture.ts";
import { accountKeys, created, deleted, ORIGIN, PUBLISHED, updated } from "../fixtures.ts";

const HOUR = 60 * 60 * 1000;
const later = (date: Date, ms: number) => new Date(date.getTime() + ms);
const POLITIK = "https://news.test/users/politik";

let keys: AccountKeys;
beforeAll(async () => {
  keys = await accountKeys();
});

function setUp(kv: KvStore = new MemoryKvStore()) {
  const federation = createMockFederation<void>({ contextData: undefined, origin: ORIGIN.href });
  const db = new DatabaseSync(":memory:");
  const sections: SectionAccounts = new Map(
    [
      { id: "politik", name: "Politik", tags: ["politik", "Wahl"] },
      { id: "kultur", name: "Kultur", tags: ["kultur"] },
    ].map((section) => [
      section.id,
      { section, keys, followers: openSqliteFollowerStore(db, section.id) },
    ]),
  );
  const publisher = createSectionsPublisher(
    federation as unknown as Federation<void>,
    // The first scan (the import) an hour before PUBLISHED.
    { sections, kv, firstScan: async () => later(PUBLISHED, -HOUR) },
    { origin: ORIGIN, username: "news" },
  );
  const sent = () => federation.sentActivities.map((s) => s.activity);
  return { publisher, sent, federation };
}

const wahl = makeArticle({ id: "wahl", slug: "wahl", tags: ["wahl"] });
const object = "https://news.test/objects/wahl";

describe("the sections' publisher", () => {
  it("boosts a new story carrying a section's tag as that section, and nothing else", async () => {
    const { publisher, sent } = setUp();
    const untagged = makeArticle({ id: "other", slug: "other", tags: ["wetter"] });
    await publisher.publish([created(wahl, 2), created(untagged, 3)]);
    expect(publisher.name).toBe("sections");
    const [announce, ...rest] = sent();
    expect(rest).toEqual([]);
    expect(announce).toBeInstanceOf(Announce);
    expect(announce?.actorId?.href).toBe(POLITIK);
    expect(announce?.objectId?.href).toBe(object);
    expect(announce?.id?.href).toBe(`${POLITIK}#announces/wahl/2`);
    expect(announce?.ccIds.map((id) => id.href)).toEqual([
      `${POLITIK}/followers`,
      "https://news.test/users/news",
    ]);
  });

  it("takes the boost back when the tag goes, boosts anew when it comes back, and un-boosts a deleted story", async () => {
    const { publisher, sent } = setUp();
    await publisher.publish([created(wahl, 2)]);
    const edited = later(PUBLISHED, HOUR);
    await publisher.publish([updated({ ...wahl, title: "Edited" }, 3, edited)]);
    expect(sent()).toHaveLength(1); // an edit keeping the tag needs nothing
    await publisher.publish([updated({ ...wahl, tags: ["termine"] }, 4, edited)]);
    const undo = sent()[1];
    expect(undo).toBeInstanceOf(Undo);
    expect(undo?.actorId?.href).toBe(POLITIK);
    expect(undo?.objectId?.href).toBe(`${POLITIK}#announces/wahl/2`);
    await publisher.publish([updated({ ...wahl, tags: ["Politik", "Kultur"] }, 5, edited)]);
    const again = sent().slice(2);
    expect(again.map((a) => a.id?.href).sort()).toEqual([
      "https://news.test/users/kultur#announces/wahl/5",
      `${POLITIK}#announces/wahl/5`,
    ]);
    await publisher.publish([deleted(wahl, 6, edited)]);
    const undone = sent().slice(4);
    expect(undone.every((a) => a instanceof Undo)).toBe(true);
    expect(undone.map((a) => a.objectId?.href).sort()).toEqual([
      "https://news.test/users/kultur#announces/wahl/5",
      `${POLITIK}#announces/wahl/5`,
    ]);
  });

  it("never boosts what the main account did not push: the import, backdated stories, and their edits", async () => {
    const { publisher, sent } = setUp();
    const imported = { ...wahl, id: "imported", published: later(PUBLISHED, -2 * HOUR) };
    const backdated = { ...wahl, id: "old", published: later(PUBLISHED, -48 * HOUR) };
    await publisher.publish([
      created(imported, 1, later(PUBLISHED, -HOUR)),
      created(backdated, 2, PUBLISHED),
    ]);
    await publisher.publish([
      updated({ ...imported, tags: ["politik"] }, 3, PUBLISHED),
      updated({ ...backdated, tags: ["kultur"] }, 4, PUBLISHED),
      // Edited, never seen created: it predates the sections.
      updated({ ...wahl, id: "before" }, 5, PUBLISHED),
    ]);
    expect(sent()).toEqual([]);
  });

  it("sends the same ids again when a crash made the pipeline offer the events again", async () => {
    const kv = new MemoryKvStore();
    let fail = true;
    const crashing: KvStore = {
      get: (key) => kv.get(key),
      delete: (key) => kv.delete(key),
      list: (prefix) => kv.list(prefix),
      set: async (key: KvKey, value: unknown) => {
        if (fail) throw new Error("crash");
        await kv.set(key, value);
      },
    };
    const { publisher, sent } = setUp(crashing);
    const events: ChangeEvent[] = [created(wahl, 2)];
    await expect(publisher.publish(events)).rejects.toThrow("crash");
    fail = false;
    await publisher.publish(events);
    await publisher.publish([updated(wahl, 3, PUBLISHED)]);
    expect(sent().map((a) => a.id?.href)).toEqual([
      `${POLITIK}#announces/wahl/2`,
      `${POLITIK}#announces/wahl/2`,
    ]);
  });
});
