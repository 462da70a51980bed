/**
 * `SECTIONS`: the section accounts, e.g. `politik: Politik, tags politik, wahl; wirtschaft:
 * Wirtschaft, tags wirtschaft`. Each entry is `id: display name` and optionally `tags …`
 * (comma-separated, default the id); the id is the account's username (`@politik@host`).
 */
import { Invalid } from "./config-values.ts";
import { tagKey } from "./store/store.ts";

/** One section account. */
export interface SectionConfig {
  /** The username and actor identifier: `@id@host`, `/users/id`. */
  readonly id: string;
  /** The display name. */
  readonly name: string;
  /** The tags whose stories the section shares, as written (compare with `tagKey()`). */
  readonly tags: readonly string[];
}

const ID = /^[a-z0-9_]{1,30}$/;

export function parseSections(value: string): readonly SectionConfig[] {
  const sections: SectionConfig[] = [];
  for (const entry of value.split(";")) {
    if (entry.trim() === "") continue;
    const section = parseSection(entry.trim());
    if (sections.some((s) => s.id === section.id)) {
      throw new Invalid(`names section "${section.id}" twice`);
    }
    sections.push(section);
  }
  return sections;
}

function parseSection(entry: string): SectionConfig {
  const colon = entry.indexOf(":");
  if (colon < 0) {
    throw new Invalid(
      `entries must look like "politik: Politik, tags politik, wahl", not "${entry}"`,
    );
  }
  const id = entry.slice(0, colon).trim();
  if (!ID.test(id)) {
    throw new Invalid(
      `section ids must be 1 to 30 lower-case letters, digits or underscores ("${id}")`,
    );
  }
  const [name = "", ...rest] = entry
    .slice(colon + 1)
    .split(",")
    .map((part) => part.trim());
  if (name === "" || /^tags(\s|$)/i.test(name)) {
    throw new Invalid(`section "${id}" needs a display name before its tags`);
  }
  const first = rest[0];
  if (first !== undefined && !/^tags(\s|$)/i.test(first)) {
    throw new Invalid(`section "${id}": expected "tags …" after the name, got "${first}"`);
  }
  const tags = [first?.replace(/^tags\s*/i, "") ?? id, ...rest.slice(1)].map((t) =>
    t.replace(/^#/, "").trim(),
  );
  if (tags.some((tag) => tag === "")) throw new Invalid(`section "${id}" has an empty tag`);
  return { id, name, tags: [...new Map(tags.map((t) => [tagKey(t), t])).values()] };
}

/** Problems of sections against the rest of the configuration: an id taken by the account. */
export function sectionProblems(
  sections: readonly SectionConfig[],
  accountUsername: string,
): string[] {
  return sections
    .filter((s) => s.id.toLowerCase() === accountUsername.toLowerCase())
    .map((s) => `SECTIONS uses "${s.id}", which is ACCOUNT_USERNAME: pick another section id.`);
}

/** The sections that share `tags` (the article's), in configuration order. */
export function sectionsFor(
  sections: readonly SectionConfig[],
  tags: readonly string[],
): SectionConfig[] {
  const keys = new Set(tags.map(tagKey));
  return sections.filter((section) => section.tags.some((tag) => keys.has(tagKey(tag))));
}
