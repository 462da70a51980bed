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

/** RSS 2.0 with `content:encoded`, Dublin Core author and language, and atom:link self/hub. */
export function renderRss(head: FeedHead, entries: readonly FeedEntry[]): string {
  const feed = new Feed({
    title: forXmlJsText(head.title),
    description: forXmlJsText(head.description),
    link: head.home.href,
    language: forXmlJsText(head.language),
    // `feed` defaults lastBuildDate to now; the newest article date keeps the bytes (and ETag)
    // unchanged until an article changes.
    updated: head.updated,
    generator: "Herald",
    // `feed` takes the RSS self link from `feedLinks.rss` (and Atom's from `feedLinks.atom`)
    // unless the shared `feed` option is set, so that one stays unset.
    feedLinks: { rss: head.self.rss.href },
    ...(head.hub === undefined ? {} : { hub: head.hub.href }),
  });
  entries.forEach((entry, index) => {
    feed.addItem({
      // `feed` writes item titles as CDATA; the marker is replaced with escaped text below.
      title: marker(index),
      link: entry.url.href,
      // The object URL, stable across edits and renames; `feed` marks a `guid` isPermaLink="false".
      guid: forXmlJsText(entry.id.href),
      date: entry.updated,
      published: entry.published,
      // RSS descriptions are HTML; the summary is plain text.
      description: forCdata(textToHtml(entry.summary)),
      content: forCdata(entry.contentHtml),
      category: entry.tags.map((tag) => ({ name: forXmlJsText(tag) })),
      ...(entry.image === undefined
        ? {}
        : // The size is unknown without reading the file; RSS Best Practices say length="0" then.
          { image: { url: entry.image.url.href, type: entry.image.type, length: 0 } }),
      // `<author>` must be an e-mail address in RSS; dc:creator takes a name. `feed` declares
      // the dc and atom namespaces because every item has content and the channel a self link.
      extensions: [
        { name: "dc:creator", objects: { _text: forXmlJsText(entry.author) } },
        { name: "dc:language", objects: { _text: forXmlJsText(entry.language) } },
        { name: "atom:updated", objects: { _text: entry.updated.toISOString() } },
      ],
    });
  });
  return replaceMarkers(
    insertAfter(feed.rss2(), /<channel>/, archiveElements(head, "rss")),
    new RegExp(`<title><!\\[CDATA\\[${markerPattern}\\]\\]></title>`, "g"),
    entries.length,
    (index) => `<title>${escapeXml(entryAt(entries, index).title)}</title>`,
  );
}
