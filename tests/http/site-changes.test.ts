import { describe, expect, it } from "vitest";
import type { ChangeEvent } from "../../src/article.ts";
import { staleKeys } from "../../src/http/site-changes.ts";
import { makeArticle } from "../helpers/article-fixture.ts";

const newest = new Date("2026-03-01T10:00:00.000Z");
const limit = 50;

function event(type: ChangeEvent["type"], published: Date, seq = 1): ChangeEvent {
  return { type, seq, at: published, article: makeArticle({ published, updated: published }) };
}

/** A count of published articles that remembers whether it was asked. */
function counted(published: number) {
  const asked = { times: 0 };
  const count = async () => {
    asked.times++;
    return published;
  };
  return { asked, published: count };
}

describe("staleKeys()", () => {
  it("counts the published articles only when the events add stories newer than all", async () => {
    const later = new Date(newest.getTime() + 60_000);
    const appending = counted(251);
    const stale = await staleKeys([event("created", later)], { newest }, { ...appending, limit });
    expect(appending.asked.times).toBe(1);
    // 250 before it: pages 1-5 were full, so the fifth gains a `next` link; the fourth stays.
    expect(stale("archive:5")).toBe(true);
    expect(stale("archive:4")).toBe(false);

    for (const events of [
      [event("updated", later)],
      [event("created", new Date(newest.getTime() - 60_000))],
      [event("created", later), event("deleted", later, 2)],
    ]) {
      const other = counted(251);
      const keys = await staleKeys(events, { newest }, { ...other, limit });
      expect(other.asked.times).toBe(0);
      expect(keys("archive:1")).toBe(true);
    }
    const first = counted(1);
    const keys = await staleKeys(
      [event("created", later)],
      { newest: undefined },
      { ...first, limit },
    );
    expect(first.asked.times).toBe(0);
    expect(keys("archive:1")).toBe(true);
  });
});
