import { type KvKey, MemoryKvStore } from "@fedify/fedify";
import { Delete } from "@fedify/vocab";
import { describe, expect, it } from "vitest";
import {
  idempotencyKey,
  withoutQueuedIdempotence,
} from "../../../src/federation/interactions/idempotency.ts";

const context = undefined as unknown as Parameters<typeof idempotencyKey>[0];
const deletion = (actor: string, id = "https://a.test/users/alice/statuses/1#delete") =>
  new Delete({ id: new URL(id), actor: new URL(actor) });

describe("idempotencyKey()", () => {
  it("keys an activity by its actor and id, so two actors never share a record", () => {
    const alice = idempotencyKey(context, deletion("https://a.test/users/alice"));
    const eve = idempotencyKey(context, deletion("https://a.test/users/eve"));
    expect(alice).toBe("https://a.test/users/alice\nhttps://a.test/users/alice/statuses/1#delete");
    expect(eve).not.toBe(alice);
  });

  it("keeps no record of an activity whose id is not on its actor's server", () => {
    expect(idempotencyKey(context, deletion("https://b.test/users/mallory"))).toBeNull();
  });
});

describe("withoutQueuedIdempotence()", () => {
  it("forgets the queue worker's per-origin records and keeps everything else", async () => {
    const kv = withoutQueuedIdempotence(new MemoryKvStore());
    const queued: KvKey = [
      "_fedify",
      "activityIdempotence",
      "https://news.test",
      "https://a.test/1",
    ];
    const received: KvKey = [
      "_fedify",
      "activityIdempotence",
      "https://a.test/u\nhttps://a.test/1",
    ];
    await kv.set(queued, true);
    await kv.set(received, true);
    await kv.set(["herald", "x"], 1);
    expect(await kv.get(queued)).toBeUndefined();
    expect(await kv.get(received)).toBe(true);
    expect(await kv.get(["herald", "x"])).toBe(1);
  });
});
