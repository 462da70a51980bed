/** What `npm run preview` says of the section accounts (`SECTIONS`) that will share a story. */
import { type SectionConfig, sectionsFor } from "../config-sections.ts";
import { tagKey } from "../store/store.ts";

export function sectionPreviewLines(
  tags: readonly string[],
  sections: readonly SectionConfig[],
  origin: URL,
): string[] {
  if (sections.length === 0) return [];
  const sharing = sectionsFor(sections, tags);
  const keys = new Set(tags.map(tagKey));
  return [
    "",
    "Section accounts (SECTIONS)",
    ...(sharing.length === 0
      ? ["  none boosts it: it carries no section's tag (the main account posts it all the same)."]
      : sharing.map((section) => {
          const matched = section.tags.filter((tag) => keys.has(tagKey(tag)));
          return `  @${section.id}@${origin.host} (${section.name}) boosts it, for #${matched.join(", #")}`;
        })),
  ];
}
