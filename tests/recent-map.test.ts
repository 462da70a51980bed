import { describe, expect, it } from "vitest";
import { RecentMap } from "../src/recent-map.ts";

describe("RecentMap", () => {
  it("forgets the least recently used entry beyond its count", () => {
    const map = new RecentMap<string, number>({ entries: 2 });
    map.set("a", 1).set("b", 2);
    expect(map.get("a")).toBe(1); // "a" is now newer than "b"
    map.set("c", 3);
    expect(map.keys()).toEqual(["a", "c"]);
    expect(map.get("b")).toBeUndefined();
  });

  it("leaves an entry's place as it is when asked only whether it is there", () => {
    const map = new RecentMap<string, number>({ entries: 2 });
    map.set("a", 1).set("b", 2);
    expect(map.has("a")).toBe(true);
    map.set("c", 3);
    expect(map.keys()).toEqual(["b", "c"]);
  });

  it("forgets the oldest entries once their weights add up to more than its weight", () => {
    const map = new RecentMap<string, string>({ entries: 10, weight: 5, weigh: (v) => v.length });
    map.set("a", "xx").set("b", "xx");
    map.set("a", "x"); // written again: its new weight counts, its old one no longer
    expect(map.keys()).toEqual(["b", "a"]);
    map.set("c", "xxx");
    expect(map.keys()).toEqual(["a", "c"]);
    map.delete("a");
    map.set("d", "xx");
    expect(map.keys()).toEqual(["c", "d"]);
  });

  it("keeps the entry just written even when it alone weighs more than its weight", () => {
    const map = new RecentMap<string, string>({ entries: 10, weight: 3, weigh: (v) => v.length });
    map.set("a", "x").set("big", "xxxxxx");
    expect(map.keys()).toEqual(["big"]);
    map.set("b", "x");
    expect(map.keys()).toEqual(["b"]);
  });

  it("starts from nothing after clear()", () => {
    const map = new RecentMap<string, string>({ entries: 10, weight: 2, weigh: (v) => v.length });
    map.set("a", "xx");
    map.clear();
    expect(map.size).toBe(0);
    map.set("b", "x").set("c", "x");
    expect(map.keys()).toEqual(["b", "c"]);
  });
});
