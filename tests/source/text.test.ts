import { describe, expect, it } from "vitest";
import { squash } from "../../src/source/text.ts";

describe("squash", () => {
  it("collapses every run of white space to one space and trims", () => {
    expect(squash("  The council\tmet\n\ntonight  ")).toBe("The council met tonight");
    expect(squash("a  b")).toBe("a b");
    expect(squash("Straße\u00a0\u2003Nr. 5")).toBe("Straße Nr. 5");
    expect(squash("\r\n")).toBe("");
  });

  it("leaves text with single spaces as it is, but trimmed", () => {
    expect(squash("The council met tonight.")).toBe("The council met tonight.");
    expect(squash(" one space each side ")).toBe("one space each side");
    expect(squash("")).toBe("");
  });
});
