/**
 * Escaping for the XML feeds. `feed` 6 writes through xml-js, whose text writer first turns
 * every `&amp;` back into `&` and then escapes `&`, `<`, `>` (so a literal "&amp;" in a title
 * would lose its escaping), and whose attribute writer escapes only `"`.
 */

// Characters XML 1.0 forbids anywhere, even escaped: C0 controls but tab, LF, CR; lone surrogates;
// U+FFFE and U+FFFF. https://www.w3.org/TR/xml/#charsets
const notXmlChar = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlSafe(text: string): string {
  return text.replace(notXmlChar, "");
}

/** For our own markup: text content and attribute values alike. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * For strings `feed` writes as element text. xml-js un-escapes `&amp;` before escaping, so a
 * pre-escaped `&` makes its output exactly once-escaped for any input.
 */
export function forXmlJsText(text: string): string {
  return text.replace(/&/g, "&amp;");
}

/** For HTML that `feed` writes inside CDATA: `]]>` would end the section early. */
export function forCdata(html: string): string {
  return html.replaceAll("]]>", "]]&gt;");
}

/** Plain text as HTML, for the elements feeds define as HTML (`description`, `type="html"`). */
export function textToHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A placeholder `feed` writes where we put markup of our own afterwards. NUL never survives
 * `xmlSafe`, so no article text can contain one.
 */
export function marker(index: number): string {
  return `\u0000herald:${index}\u0000`;
}

/** Matches a `marker()` in a regular expression, capturing its number as group `index`. */
export const markerPattern = "\u0000herald:(?<index>\\d+)\u0000";

/**
 * Replaces each `pattern` match (its group `index` names the marker) with `replace(index, match)`
 * and checks that every marker was found exactly once.
 */
export function replaceMarkers(
  xml: string,
  pattern: RegExp,
  count: number,
  replace: (index: number, groups: Readonly<Record<string, string>>) => string,
): string {
  const seen = new Set<number>();
  const out = xml.replace(pattern, (...args: unknown[]) => {
    const groups = args.at(-1) as Record<string, string>;
    const index = Number(groups.index);
    seen.add(index);
    return replace(index, groups);
  });
  if (seen.size !== count || out.includes("\u0000")) {
    throw new Error("The feed library's output no longer has the shape Herald patches.");
  }
  return out;
}
