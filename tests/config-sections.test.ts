import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { sectionsFor } from "../src/config-sections.ts";
import { configProblems } from "./helpers/config.ts";

describe("loadConfig(): SECTIONS", () => {
  it("has none by default", () => {
    expect(loadConfig({}).sections).toEqual([]);
  });

  it("reads id, display name and tags; the tags default to the id", () => {
    const { sections } = loadConfig({
      SECTIONS: "politik: Politik, tags politik, Wahl; wirtschaft: Wirtschaft & Geld ;",
    });
    expect(sections).toEqual([
      { id: "politik", name: "Politik", tags: ["politik", "Wahl"] },
      { id: "wirtschaft", name: "Wirtschaft & Geld", tags: ["wirtschaft"] },
    ]);
  });

  it("drops a leading # and a repeated tag (tags compare whatever their case)", () => {
    const { sections } = loadConfig({ SECTIONS: "kultur: Kultur, tags #Kunst, kunst, Musik" });
    expect(sections[0]?.tags).toEqual(["kunst", "Musik"]);
  });

  it("names each bad entry, and a section that takes the account's username", () => {
    expect(configProblems({ SECTIONS: "x: X; politik Politik" })).toEqual([
      'SECTIONS entries must look like "politik: Politik, tags politik, wahl", not "politik Politik" (got "x: X; politik Politik").',
    ]);
    expect(configProblems({ SECTIONS: "Politik!: Politik" })[0]).toContain(
      'section ids must be 1 to 30 lower-case letters, digits or underscores ("Politik!")',
    );
    expect(configProblems({ SECTIONS: "politik: tags politik" })[0]).toContain(
      'section "politik" needs a display name before its tags',
    );
    expect(configProblems({ SECTIONS: "politik: Politik, wahl" })[0]).toContain(
      'section "politik": expected "tags …" after the name, got "wahl"',
    );
    expect(configProblems({ SECTIONS: "politik: Politik, tags a,, b" })[0]).toContain(
      'section "politik" has an empty tag',
    );
    expect(configProblems({ SECTIONS: "a: A; a: B" })[0]).toContain('names section "a" twice');
    expect(configProblems({ SECTIONS: "news: News", ACCOUNT_USERNAME: "News" })).toEqual([
      'SECTIONS uses "news", which is ACCOUNT_USERNAME: pick another section id.',
    ]);
  });
});

describe("sectionsFor()", () => {
  it("picks the sections sharing any of the tags, whatever their case", () => {
    const { sections } = loadConfig({
      SECTIONS: "politik: Politik, tags politik, wahl; wirtschaft: Wirtschaft",
    });
    expect(sectionsFor(sections, ["WAHL", "Wetter"]).map((s) => s.id)).toEqual(["politik"]);
    expect(sectionsFor(sections, ["wirtschaft", "Politik"]).map((s) => s.id)).toEqual([
      "politik",
      "wirtschaft",
    ]);
    expect(sectionsFor(sections, [])).toEqual([]);
  });
});
