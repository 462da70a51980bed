import { describe, expect, it } from "vitest";
import type { ParsedArticle } from "../../src/article.ts";
import { type DiffInput, diffArticles } from "../../src/store/diff.ts";
import type { ArticleState, StoredArticle } from "../../src/store/store.ts";

const SEEN = new Date("2026-02-01T09:00:00.000Z");
const NOW = new Date("2026-03-01T12:00:00.000Z");
const LATER = new Date("2026-04-01T12:00:00.000Z");
const ms = (date: Date, n: number) => new Date(date.getTime() + n);

function parsed(overrides: Partial<ParsedArticle> = {}): ParsedArticle {
  return {
    path: "news.md",
    slug: "news",
    explicitSlug: false,
    title: "News",
    summary: "What happened.",
    contentHtml: "<p>What happened.</p>",
    language: "en",
    tags: [],
    draft: false,
    pinned: false,
    hash: "h1",
    ...overrides,
  };
}

/** What the store holds for `parsed` after an earlier scan gave it id `id`. */
function stored(
  id: string,
  from: ParsedArticle,
  state: ArticleState = "published",
  updated = SEEN,
): StoredArticle {
  const { path, slug, title, summary, contentHtml, language, tags, pinned, hash } = from;
  return {
    article: {
      ...{ id, path, slug, title, summary, contentHtml, language, tags, pinned, hash },
      published: from.date ?? SEEN,
      updated,
    },
    state,
    explicitSlug: from.explicitSlug,
    firstSeen: SEEN,
  };
}

/** A scan's input: nothing known, nothing vanished, ids `n1`, `n2`, … for new articles. */
function input(overrides: Partial<DiffInput> = {}): DiffInput {
  let next = 0;
  return {
    parsed: [],
    byPath: new Map(),
    vanished: [],
    final: true,
    due: [],
    slugOwner: () => undefined,
    now: NOW,
    newId: () => `n${++next}`,
    ...overrides,
  };
}

const known = (...records: StoredArticle[]) =>
  new Map(records.map((r) => [r.article.path, r] as const));
const events = (result: ReturnType<typeof diffArticles>) =>
  result.changes.map((c) => `${c.type} ${c.article.id} ${c.article.slug}`);

describe("diffArticles()", () => {
  it("creates a new file's article, published when first seen if it has no date", () => {
    const result = diffArticles(input({ parsed: [parsed({ pinned: true, author: "Ana" })] }));
    expect(events(result)).toEqual(["created n1 news"]);
    const [write] = result.writes;
    expect(write?.state).toBe("published");
    expect(write?.firstSeen).toEqual(NOW);
    expect(write?.article.published).toEqual(NOW);
    expect(write?.article.updated).toEqual(NOW);
    expect(write?.article.pinned).toBe(true);
    expect(write?.article.author).toBe("Ana");
    expect(write?.article).not.toHaveProperty("image");
    expect(result.links.get("news.md")).toBe("n1");
  });

  it("carries corrections into the article, and leaves an empty list out", () => {
    const correction = { text: "An earlier version named the wrong minister.", date: NOW };
    const result = diffArticles(
      input({
        parsed: [
          parsed({ path: "a.md", slug: "a", corrections: [correction] }),
          parsed({ path: "b.md", slug: "b", corrections: [] }),
        ],
      }),
    );
    expect(result.writes[0]?.article.corrections).toEqual([correction]);
    expect(result.writes[1]?.article).not.toHaveProperty("corrections");
  });

  it("dates a new article from its front matter; `updated` is never before `date`", () => {
    const date = new Date("2026-02-20T00:00:00.000Z");
    const result = diffArticles(
      input({
        parsed: [
          parsed({ path: "a.md", slug: "a", date, updated: new Date("2026-01-01T00:00:00Z") }),
          parsed({ path: "b.md", slug: "b", date, updated: ms(date, 5_000) }),
        ],
      }),
    );
    expect(result.writes.map((w) => [w.article.published, w.article.updated])).toEqual([
      [date, date],
      [date, ms(date, 5_000)],
    ]);
  });

  it("keeps a new draft and a new future article without announcing them", () => {
    const result = diffArticles(
      input({
        parsed: [
          parsed({ path: "d.md", slug: "d", draft: true }),
          parsed({ path: "f.md", slug: "f", date: LATER }),
        ],
      }),
    );
    expect(result.changes).toEqual([]);
    expect(result.writes.map((w) => [w.article.slug, w.state])).toEqual([
      ["d", "draft"],
      ["f", "scheduled"],
    ]);
    expect(result.writes[1]?.article.published).toEqual(LATER);
  });

  it("numbers a slug another article owns, in the store or earlier in the same scan", () => {
    const owners = new Map([
      ["news", "old"],
      ["news-2", "older"],
    ]);
    const result = diffArticles(
      input({
        parsed: [parsed({ path: "b.md" }), parsed({ path: "a.md", hash: "h2" })],
        slugOwner: (slug) => owners.get(slug),
      }),
    );
    // Files are taken in path order, whatever order they were read in.
    expect(events(result)).toEqual(["created n1 news-3", "created n2 news-4"]);
  });

  it("reports an edited file as updated, with a newer `updated` than before", () => {
    const before = parsed();
    const result = diffArticles(
      input({
        parsed: [parsed({ hash: "h2", title: "News, corrected" })],
        byPath: known(stored("a1", before, "published", NOW)),
      }),
    );
    expect(events(result)).toEqual(["updated a1 news"]);
    const article = result.writes[0]?.article;
    expect(article?.title).toBe("News, corrected");
    // `now` is not after the last `updated`: one millisecond later, or servers ignore the Update.
    expect(article?.updated).toEqual(ms(NOW, 1));
    expect(article?.published).toEqual(SEEN);
    expect(result.writes[0]?.firstSeen).toEqual(SEEN);
  });

  it("takes an edit's `updated` from front matter when it is newer than the last one", () => {
    const edited = parsed({ hash: "h2", updated: ms(NOW, -60_000) });
    const result = diffArticles(input({ parsed: [edited], byPath: known(stored("a1", parsed())) }));
    expect(result.writes[0]?.article.updated).toEqual(ms(NOW, -60_000));
  });

  it("writes nothing for a file read again with the same hash", () => {
    const same = parsed();
    const result = diffArticles(input({ parsed: [same], byPath: known(stored("a1", same)) }));
    expect(result.writes).toEqual([]);
    expect(result.changes).toEqual([]);
    expect(result.links.get("news.md")).toBe("a1");
  });

  it("reports a changed slug as an edit, and frees the old one", () => {
    const result = diffArticles(
      input({
        parsed: [parsed({ slug: "renamed" }), parsed({ path: "z.md", hash: "h9" })],
        byPath: known(stored("a1", parsed())),
        slugOwner: (slug) => (slug === "news" ? "a1" : undefined),
      }),
    );
    expect(events(result)).toEqual(["updated a1 renamed", "created n1 news"]);
  });

  it("continues a vanished article in a new file with the same text, without an event", () => {
    const old = stored("a1", parsed({ path: "old.md" }));
    const result = diffArticles(input({ parsed: [parsed({ path: "new.md" })], vanished: [old] }));
    expect(result.changes).toEqual([]);
    expect(result.writes.map((w) => [w.article.id, w.article.path])).toEqual([["a1", "new.md"]]);
    expect([...result.claimed]).toEqual(["a1"]);
    expect(result.links.get("new.md")).toBe("a1");
  });

  it("continues a vanished article by its front-matter slug before any same text", () => {
    const bySlug = stored("a1", parsed({ path: "old.md", explicitSlug: true, hash: "h0" }));
    const byText = stored("a2", parsed({ path: "copy.md", slug: "copy", hash: "h5" }));
    const moved = parsed({ path: "new.md", explicitSlug: true, hash: "h5" });
    const result = diffArticles(input({ parsed: [moved], vanished: [byText, bySlug] }));
    expect([...result.claimed]).toEqual(["a1"]);
    // The slug claimed it; the text differs, so it is an edit. The unclaimed one is deleted.
    expect(events(result)).toEqual(["updated a1 news", "deleted a2 copy"]);
  });

  it("does not match a slug that was not from front matter", () => {
    const old = stored("a1", parsed({ path: "old.md", hash: "h0" }));
    const result = diffArticles(
      input({ parsed: [parsed({ path: "new.md", explicitSlug: true })], vanished: [old] }),
    );
    expect([...result.claimed]).toEqual([]);
    expect(events(result)).toEqual(["created n1 news", "deleted a1 news"]);
  });

  it("deletes a vanished article only in the scan's last batch", () => {
    const gone = stored("a1", parsed(), "published", NOW);
    expect(diffArticles(input({ vanished: [gone], final: false })).writes).toEqual([]);
    const result = diffArticles(input({ vanished: [gone] }));
    expect(events(result)).toEqual(["deleted a1 news"]);
    expect(result.writes[0]?.state).toBe("deleted");
    // Dated with its deletion, after its last `updated`.
    expect(result.writes[0]?.article.updated).toEqual(ms(NOW, 1));
  });

  it("deletes a vanished draft without announcing it", () => {
    const result = diffArticles(input({ vanished: [stored("a1", parsed(), "draft")] }));
    expect(result.changes).toEqual([]);
    expect(result.writes.map((w) => w.state)).toEqual(["deleted"]);
  });

  it("deletes a published article turned draft or moved to the future; it returns as a new one", () => {
    const result = diffArticles(
      input({
        parsed: [
          parsed({ path: "a.md", slug: "a", draft: true }),
          parsed({ path: "b.md", slug: "b", date: LATER }),
        ],
        byPath: known(
          stored("a1", parsed({ path: "a.md", slug: "a" })),
          stored("b1", parsed({ path: "b.md", slug: "b" })),
        ),
      }),
    );
    expect(events(result)).toEqual(["deleted a1 a", "deleted b1 b"]);
    expect(result.writes.map((w) => [w.article.id, w.article.slug, w.state])).toEqual([
      ["a1", "a", "deleted"],
      ["n1", "a", "draft"],
      ["b1", "b", "deleted"],
      ["n2", "b", "scheduled"],
    ]);
  });

  it("announces a draft once it is published, keeping its id", () => {
    const draft = parsed({ draft: true });
    const result = diffArticles(
      input({ parsed: [parsed()], byPath: known(stored("a1", draft, "draft")) }),
    );
    expect(events(result)).toEqual(["created a1 news"]);
    expect(result.writes[0]?.state).toBe("published");
  });

  it("keeps a plain-text article's first-seen date when it is edited", () => {
    const result = diffArticles(
      input({ parsed: [parsed({ hash: "h2" })], byPath: known(stored("a1", parsed())) }),
    );
    expect(result.writes[0]?.article.published).toEqual(SEEN);
  });

  it("writes an unpublished article whose state changed but not its text, without an event", () => {
    const draft = parsed({ draft: true });
    const result = diffArticles(
      input({ parsed: [parsed({ date: LATER })], byPath: known(stored("a1", draft, "draft")) }),
    );
    expect(result.changes).toEqual([]);
    expect(result.writes.map((w) => [w.article.id, w.state])).toEqual([["a1", "scheduled"]]);
  });

  it("publishes scheduled articles whose time has come, unless this scan wrote them", () => {
    const due = stored("s1", parsed({ path: "s.md", slug: "s", date: NOW }), "scheduled");
    const rewritten = stored("s2", parsed({ path: "t.md", slug: "t" }), "scheduled");
    const result = diffArticles(
      input({
        parsed: [parsed({ path: "t.md", slug: "t", hash: "h2", date: LATER })],
        byPath: known(rewritten),
        due: [due, rewritten],
      }),
    );
    expect(events(result)).toEqual(["created s1 s"]);
    expect(result.writes.map((w) => [w.article.id, w.state])).toEqual([
      ["s2", "scheduled"],
      ["s1", "published"],
    ]);
  });

  it("numbers a new file's slug while the vanished article owning it is still to be deleted", () => {
    const result = diffArticles(
      input({
        parsed: [parsed({ path: "n.md", slug: "old", hash: "h7" })],
        vanished: [stored("a1", parsed({ path: "o.md", slug: "old" }))],
        slugOwner: (slug) => (slug === "old" ? "a1" : undefined),
        final: true,
      }),
    );
    // The deletion comes after the files: the new file had to number its slug.
    expect(events(result)).toEqual(["created n1 old-2", "deleted a1 old"]);
  });

  it("gives the same result for the same input", () => {
    const scan = () =>
      diffArticles(input({ parsed: [parsed({ path: "b.md" }), parsed({ path: "a.md" })] }));
    expect(scan()).toEqual(scan());
  });
});
