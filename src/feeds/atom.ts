import { Feed } from "feed";
import { archiveElements, insertAfter } from "./archive.ts";
import { entryAt, type FeedEntry, type FeedHead } from "./model.ts";
import {
  escapeXml,
  forCdata,
  forXmlJsText,
  marker,
  markerPattern,
  replaceMarkers,
  textToHtml,
} from "./xml.ts";

const root = '<feed xmlns="http://www.w3.org/2005/Atom">';
const selfLink = '<link rel="self" href=';

/** Atom 1.0 (RFC 4287) with `xml:lang` on the feed and on each entry. */
export function renderAtom(head: FeedHead, entries: readonly FeedEntry[]): string {
  const feed = new Feed({
    id: forXmlJsText(head.self.atom.href),
    title: forXmlJsText(head.title),
    description: forXmlJsText(head.description),
    link: head.home.href,
    // `feed` defaults <updated> to now; see rss.ts.
    updated: head.updated,
    generator: "Herald",
    author: { name: forXmlJsText(head.author) },
    feedLinks: { atom: head.self.atom.href },
    ...(head.hub === undefined ? {} : { hub: head.hub.href }),
  });
  entries.forEach((entry, index) => {
    feed.addItem({
      // `feed` writes entry titles as type="html" CDATA, which readers decode as HTML (a
      // literal "<b>" or "&amp;" in a title would be lost); the marker becomes type="text".
      title: marker(index),
      id: entry.id.href,
      link: entry.url.href,
      date: entry.updated,
      published: entry.published,
      description: forCdata(textToHtml(entry.summary)),
      content: forCdata(entry.contentHtml),
      author: [{ name: forXmlJsText(entry.author) }],
      // Categories and the image link are written with the title below: `feed` escapes only
      // `&` in attributes, and derives an image type from the file extension ("image/jpg").
    });
  });
  const xml = feed.atom1();
  if (!xml.includes(root) || !xml.includes(selfLink)) {
    throw new Error("The feed library's output no longer has the shape Herald patches.");
  }
  const patched = xml
    .replace(root, `${root.slice(0, -1)} xml:lang="${escapeXml(head.language)}">`)
    // `feed` leaves out the self link's type, which validators and some readers want.
    .replace(selfLink, '<link rel="self" type="application/atom+xml" href=');
  return replaceMarkers(
    insertAfter(patched, /<feed [^>]*>/, archiveElements(head, "atom")),
    new RegExp(
      `<entry>(?<ws>\\s*)<title type="html"><!\\[CDATA\\[${markerPattern}\\]\\]></title>`,
      "g",
    ),
    entries.length,
    (index, { ws = "\n" }) => {
      const entry = entryAt(entries, index);
      const lines = [`<title type="text">${escapeXml(entry.title)}</title>`];
      if (entry.image !== undefined) {
        lines.push(
          `<link rel="enclosure" type="${escapeXml(entry.image.type)}" href="${escapeXml(entry.image.url.href)}"/>`,
        );
      }
      for (const tag of entry.tags) lines.push(`<category term="${escapeXml(tag)}"/>`);
      return `<entry xml:lang="${escapeXml(entry.language)}">${lines.map((line) => ws + line).join("")}`;
    },
  );
}
