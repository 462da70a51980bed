/**
 * The Article: what every publisher (feeds, pages, ActivityPub) is built from.
 * Parsing produces a `ParsedArticle`; the store gives it a stable id and its dates.
 */

/** An image: an absolute URL, or a path relative to `ARTICLES_DIR` that Herald serves. */
export interface ArticleImage {
  readonly src: string;
  readonly alt?: string;
  /** Shown under the lead image (front matter `image: { src, alt, caption, credit }`). */
  readonly caption?: string;
  /** Who made the picture: "Photo: AP". */
  readonly credit?: string;
}

/**
 * A correction notice (front matter `correction:`): readers must be able to tell a correction
 * from a silent edit (issue #16). Without a `date`, it is dated by the article's last edit.
 */
export interface Correction {
  readonly text: string;
  readonly date?: Date;
}

/** An element the sanitiser took out of an article, for its author to hear about (issue #15.4). */
export interface RemovedElement {
  /** The tag as written, with its source where it had one: `<iframe src="https://…">`. */
  readonly element: string;
  /** A link to its source was left in its place. */
  readonly linked: boolean;
  /** The line of the file it was written on. */
  readonly line: number;
}

/** What the parser makes of one file: everything but the store-assigned id and dates. */
export interface ParsedArticle {
  /** Path relative to `ARTICLES_DIR`, with `/` separators. */
  readonly path: string;
  readonly slug: string;
  /** True when the slug came from front matter (then it identifies the article across renames). */
  readonly explicitSlug: boolean;
  readonly title: string;
  /** Plain text, never empty. */
  readonly summary: string;
  /** Sanitised HTML. */
  readonly contentHtml: string;
  /** BCP 47 tag, e.g. `de`. */
  readonly language: string;
  readonly tags: readonly string[];
  readonly image?: ArticleImage | undefined;
  readonly author?: string | undefined;
  /** The author's own fediverse account, `@jane@example.social`: the page's `fediverse:creator`. */
  readonly authorFediverse?: string | undefined;
  /** From front matter; `undefined` means "when first seen". A future date means "publish then". */
  readonly date?: Date | undefined;
  /** From front matter. */
  readonly updated?: Date | undefined;
  readonly draft: boolean;
  readonly pinned: boolean;
  /** Oldest first. */
  readonly corrections?: readonly Correction[];
  /** What the sanitiser removed (reported at the scan, in `articles:check` and `preview`). */
  readonly removed?: readonly RemovedElement[];
  /** Hash of everything above that readers see; equal hashes mean nothing to republish. */
  readonly hash: string;
}

/** A published (or once published) article, as the store keeps it. */
export interface Article {
  /** Random, stable across edits, renames and title changes; never reused. */
  readonly id: string;
  readonly path: string;
  readonly slug: string;
  readonly title: string;
  readonly summary: string;
  readonly contentHtml: string;
  readonly language: string;
  readonly tags: readonly string[];
  readonly image?: ArticleImage | undefined;
  readonly author?: string | undefined;
  /** The author's own fediverse account, `@jane@example.social`: the page's `fediverse:creator`. */
  readonly authorFediverse?: string | undefined;
  readonly pinned: boolean;
  /** Oldest first; absent when there are none. */
  readonly corrections?: readonly Correction[];
  readonly published: Date;
  readonly updated: Date;
  readonly hash: string;
}

export type ArticleChange =
  | { readonly type: "created"; readonly article: Article }
  | { readonly type: "updated"; readonly article: Article }
  | { readonly type: "deleted"; readonly article: Article };

/** A change as the store recorded it: `seq` orders all changes and never repeats. */
export type ChangeEvent = ArticleChange & { readonly seq: number; readonly at: Date };
