/**
 * Every public path Herald serves that other modules link to, in one place.
 * Federation paths (actor, inbox, outbox, …) are Fedify's and live in `federation/`.
 */
export const paths = {
  home: "/",
  rss: "/feed.xml",
  atom: "/atom.xml",
  json: "/feed.json",
  /** The follow box's form: redirects a reader to their own server's follow page. */
  follow: "/follow",
  article: (slug: string) => `/articles/${encodeURIComponent(slug)}`,
  /** The ActivityPub object (and feed GUID) of an article: keyed by its stable id, not its slug. */
  object: (id: string) => `/objects/${encodeURIComponent(id)}`,
  tag: (tag: string) => `/tags/${encodeURIComponent(tag)}`,
  tagRss: (tag: string) => `/tags/${encodeURIComponent(tag)}/feed.xml`,
  tagAtom: (tag: string) => `/tags/${encodeURIComponent(tag)}/atom.xml`,
  tagJson: (tag: string) => `/tags/${encodeURIComponent(tag)}/feed.json`,
  /** A section's page (`SECTIONS`): its stories, its follow box, its feeds. */
  section: (id: string) => `/sections/${encodeURIComponent(id)}`,
  sectionRss: (id: string) => `/sections/${encodeURIComponent(id)}/feed.xml`,
  sectionAtom: (id: string) => `/sections/${encodeURIComponent(id)}/atom.xml`,
  sectionJson: (id: string) => `/sections/${encodeURIComponent(id)}/feed.json`,
  /** RFC 5005 archive pages of the home feeds: page 1 holds the oldest articles. */
  archiveRss: (page: number) => `/archive/${page}/feed.xml`,
  archiveAtom: (page: number) => `/archive/${page}/atom.xml`,
  archiveJson: (page: number) => `/archive/${page}/feed.json`,
  /** Images referenced by a path relative to `ARTICLES_DIR`. */
  media: (path: string) => `/media/${path.split("/").map(encodeURIComponent).join("/")}`,
} as const;

/** The same paths as express route patterns (parameters are not percent-encoded there). */
export const routes = {
  article: "/articles/:slug",
  tag: "/tags/:tag",
  tagRss: "/tags/:tag/feed.xml",
  tagAtom: "/tags/:tag/atom.xml",
  tagJson: "/tags/:tag/feed.json",
  section: "/sections/:section",
  sectionRss: "/sections/:section/feed.xml",
  sectionAtom: "/sections/:section/atom.xml",
  sectionJson: "/sections/:section/feed.json",
  archiveRss: "/archive/:page/feed.xml",
  archiveAtom: "/archive/:page/atom.xml",
  archiveJson: "/archive/:page/feed.json",
} as const;

export function absolute(origin: URL, path: string): URL {
  return new URL(path, origin);
}
