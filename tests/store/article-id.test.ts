import { describe, expect, it } from "vitest";
import { newArticleId } from "../../src/store/article-id.ts";

describe("newArticleId()", () => {
  it("makes UUIDs of version 7 that sort by the time they were made", () => {
    const ids = [0, 1, 1000, 2 ** 40, Date.UTC(2026, 11, 6)].map((t) => newArticleId(t));
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect([...ids].sort()).toEqual(ids);
    expect(ids[4]?.slice(0, 13)).toBe("01a248a6-7c00"); // 2026-12-06T00:00:00Z = 0x01a248a67c00 ms
    expect(new Set(Array.from({ length: 1000 }, () => newArticleId(5))).size).toBe(1000);
  });
});
