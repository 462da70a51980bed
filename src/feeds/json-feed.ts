import { archiveJsonFields } from "./archive.ts";
import type { FeedEntry, FeedHead } from "./model.ts";

/** JSON Feed 1.1 (https://jsonfeed.org/version/1.1); `feed` 6 only writes 1.0. */
export function renderJsonFeed(head: FeedHead, entries: readonly FeedEntry[]): string {
  const document = {
    version: "https://jsonfeed.org/version/1.1",
    title: head.title,
    home_page_url: head.home.href,
    feed_url: head.self.json.href,
    description: head.description,
    language: head.language,
    authors: [{ name: head.author }],
    ...(head.hub === undefined ? {} : { hubs: [{ type: "WebSub", url: head.hub.href }] }),
    ...archiveJsonFields(head),
    items: entries.map((entry) => ({
      id: entry.id.href,
      url: entry.url.href,
      title: entry.title,
      content_html: entry.contentHtml,
      summary: entry.summary,
      ...(entry.image === undefined ? {} : { image: entry.image.url.href }),
      date_published: entry.published.toISOString(),
      date_modified: entry.updated.toISOString(),
      tags: entry.tags,
      language: entry.language,
      authors: [{ name: entry.author }],
      // A JSON Feed extension (a key starting with "_"): the item's fediverse interactions.
      ...(entry.counts === undefined ? {} : { _herald: { ...entry.counts } }),
    })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
