import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seedPath } from "../helpers/articles.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

const headline =
  "Wie die beiden Länder am Montag mitteilten, wird der Außenminister von Weißrussland diese Woche Nordkorea besuchen.";

/** What a reader sees of a page: its `<main>`, without the `<head>` that repeats titles for machines. */
function mainOf(page: string): string {
  return /<main id="main">([\s\S]*)<\/main>/.exec(page)?.[1] ?? "";
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe("The seed story, with no configuration", () => {
  it("is German, dated in the system's time zone with the time of day, its headline said once", async () => {
    expect(readFileSync(seedPath, "utf8").startsWith(headline)).toBe(true);
    const folders = heraldFolders();
    copyFileSync(seedPath, join(folders.articles, "belarus-nordkorea.txt"));
    // Empty values count as unset, whatever the environment of the test run says.
    const unset = { SITE_LANGUAGE: "", SITE_TITLE: "", SITE_DESCRIPTION: "", TIME_ZONE: "" };
    const herald = await startHerald(folders, { env: { ...unset, TZ: "Europe/Berlin" } });

    const home = await (await fetch(herald.origin)).text();
    expect(home).toMatch(/<html lang="de">/);
    expect(home).toContain("Neueste Artikel");
    expect(home).not.toContain("Latest articles");
    expect(home).not.toContain("News from");
    expect(count(mainOf(home), headline)).toBe(1);

    const feed = (await (await fetch(new URL("/feed.json", herald.origin))).json()) as {
      items: { url: string; date_published: string; summary: string }[];
    };
    const [item] = feed.items;
    expect(item?.summary.startsWith("Im Mittelpunkt der Reise")).toBe(true);

    const page = await (await fetch(item?.url ?? "")).text();
    expect(page).toMatch(/<html lang="de">/);
    expect(count(mainOf(page), headline)).toBe(1);
    // "Veröffentlicht am 5. Dezember 2026, 14:30", in Berlin's time, not UTC's.
    const published = new Date(item?.date_published ?? "");
    const inBerlin = (options: Intl.DateTimeFormatOptions) =>
      new Intl.DateTimeFormat("de", { ...options, timeZone: "Europe/Berlin" }).format(published);
    const shown = `${inBerlin({ dateStyle: "long" })}, ${inBerlin({ timeStyle: "short" })}`;
    expect(shown).toMatch(/^\d{1,2}\. \p{L}+ \d{4}, \d{2}:\d{2}$/u);
    expect(page).toContain(
      `Veröffentlicht am <time datetime="${published.toISOString()}">${shown}</time>`,
    );
    // Not "updated" seconds after it was published.
    expect(page).not.toContain("aktualisiert");
  });
});
