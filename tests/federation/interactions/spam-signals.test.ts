import { describe, expect, it } from "vitest";
import { spamSignals } from "../../../src/federation/interactions/spam-signals.ts";

const now = new Date("2026-12-01T12:00:00.000Z");
const link = (n: number) => `<a href="https://x.test/${n}" rel="nofollow">x.test/${n}</a>`;
const mention = (user: string) => `<a href="https://m.test/@${user}">@${user}</a>`;

describe("spamSignals()", () => {
  it("finds nothing in an ordinary reply from an old account", () => {
    expect(
      spamSignals({
        contentHtml: `<p>${mention("a")} Good piece, see ${link(1)} and <a href="https://m.test/tags/x">#x</a></p>`,
        mentionTags: 1,
        actorPublished: new Date("2020-01-01T00:00:00.000Z"),
        now,
      }),
    ).toEqual([]);
  });

  it("marks an account made less than a day ago, and not one a day old or one that does not say", () => {
    const reply = { contentHtml: "<p>Hi</p>", mentionTags: 0, now };
    const ago = (ms: number) => new Date(now.getTime() - ms);
    expect(spamSignals({ ...reply, actorPublished: ago(10 * 60_000) })).toEqual(["new-account"]);
    expect(spamSignals({ ...reply, actorPublished: ago(24 * 3_600_000) })).toEqual([]);
    expect(spamSignals(reply)).toEqual([]);
  });

  it("marks three links or more, not counting mentions and hashtags", () => {
    const two = `<p>${link(1)} ${link(2)} ${mention("a")} ${mention("b")}</p>`;
    expect(spamSignals({ contentHtml: two, mentionTags: 2, now })).toEqual([]);
    const three = `<p>${link(1)} ${link(2)} <br>${link(3)}</p>`;
    expect(spamSignals({ contentHtml: three, mentionTags: 0, now })).toEqual(["many-links"]);
  });

  it("marks five mentions or more, by Mention tags or by @ links", () => {
    const four = ["a", "b", "c", "d"].map(mention).join(" ");
    expect(spamSignals({ contentHtml: `<p>${four}</p>`, mentionTags: 4, now })).toEqual([]);
    expect(spamSignals({ contentHtml: "<p>hi</p>", mentionTags: 5, now })).toEqual([
      "many-mentions",
    ]);
    const five = `<p>${four} ${mention("e")}</p>`;
    expect(spamSignals({ contentHtml: five, mentionTags: 0, now })).toEqual(["many-mentions"]);
  });
});
