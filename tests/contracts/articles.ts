import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { beforeEach, describe, expect, it, onTestFinished } from "vitest";
import type { ChangeEvent } from "../../src/article.ts";
import { isParsed, parseArticle } from "../../src/source/parse.ts";
import type { ArticleStore, ScanBatch, ScanLock, ScannedFile } from "../../src/store/store.ts";

/** A store under test, and ways to reach the same data as a restart or another process would. */
export interface StoreFixture {
  readonly store: ArticleStore;
  /** Closes the store and opens it again: a restart. */
  reopen(): Promise<ArticleStore>;
  /** A second instance on the same data, as another process would open it; closed after the test. */
  another(): Promise<ArticleStore>;
  /** Arguments for `tests/helpers/hold-scan-lock.ts` to open the same data in a child process. */
  readonly holderArgs: readonly string[];
}

const holderScript = fileURLToPath(new URL("../helpers/hold-scan-lock.ts", import.meta.url));

/** A child process that holds the scan lock of the fixture's data, and what it said. */
async function lockInChild(args: readonly string[]) {
  const child = spawn(process.execPath, [holderScript, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  onTestFinished(() => {
    child.kill("SIGKILL");
  });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  return { child, said: line };
}

/** Tries to take the scan lock until it succeeds or `ms` have passed. */
async function lockWithin(store: ArticleStore, ms: number): Promise<ScanLock | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const lock = await store.tryLockScan();
    if (lock !== undefined || Date.now() > deadline) return lock;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const t0 = new Date("2026-03-01T12:00:00Z");
const minutes = (n: number) => new Date(t0.getTime() + n * 60_000);

let mtime = 0;
function file(path: string, text: string): ScannedFile {
  const result = parseArticle(path, new TextEncoder().encode(text), { defaultLanguage: "en" });
  const stamp = { size: text.length, mtimeMs: ++mtime };
  return isParsed(result)
    ? { kind: "parsed", stamp, article: result }
    : { kind: "skipped", stamp, skipped: result };
}
const same = (path: string) => path;

/** One complete scan, in one batch: files read now, and paths present but unchanged. */
let known = new Set<string>();
function scan(...entries: (ScannedFile | string)[]): ScanBatch {
  const files = entries.filter((e): e is ScannedFile => typeof e !== "string");
  const present = new Set(
    entries.map((e) =>
      typeof e === "string" ? e : e.kind === "parsed" ? e.article.path : e.skipped.path,
    ),
  );
  const gone = [...known].filter((path) => !present.has(path));
  known = present;
  return { files, gone, final: true };
}
const summary = (events: readonly ChangeEvent[]) =>
  events.map((e) => `${e.type} ${e.article.slug}`);

/** The behaviour every ArticleStore must have; run over each implementation. */
export function describeArticleStore(name: string, open: () => Promise<StoreFixture>) {
  describe(`${name}: ArticleStore contract`, () => {
    let fixture: StoreFixture;
    let store: ArticleStore;
    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
      known = new Set();
    });

    it("reports a new file as created, once", async () => {
      const events = await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      expect(summary(events)).toEqual(["created a"]);
      expect(events[0]?.article).toMatchObject({ title: "A", published: t0, updated: t0 });
      expect(await store.apply(scan(same("a.md")), minutes(1))).toEqual([]);
    });

    it("reports an edit as updated, keeping the id and publication date, with a newer updated", async () => {
      const [created] = await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      const [updated] = await store.apply(scan(file("a.md", "# A\n\nText, edited.")), minutes(5));
      expect(updated?.type).toBe("updated");
      expect(updated?.article.id).toBe(created?.article.id);
      expect(updated?.article.published).toEqual(t0);
      expect(updated?.article.updated).toEqual(minutes(5));
      expect(updated?.article.contentHtml).toContain("edited");
    });

    it("reports nothing when a file is rewritten with the same content", async () => {
      await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      expect(await store.apply(scan(file("a.md", "# A\n\nText.")), minutes(1))).toEqual([]);
    });

    it("reports a removed file as deleted, and answers its slug as deleted", async () => {
      const [created] = await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      const events = await store.apply(scan(), minutes(1));
      expect(summary(events)).toEqual(["deleted a"]);
      expect(events[0]?.article.id).toBe(created?.article.id);
      expect((await store.findBySlug("a"))?.state).toBe("deleted");
      expect(await store.countPublished()).toBe(0);
    });

    it("remembers when its first scan was, even an empty one", async () => {
      expect(await store.firstScan()).toBeUndefined();
      await store.apply({ files: [], gone: [], final: false }, t0);
      expect(await store.firstScan()).toBeUndefined();
      await store.apply(scan(), minutes(1));
      await store.apply(scan(file("a.md", "# A\n\nText.")), minutes(2));
      expect(await store.firstScan()).toEqual(minutes(1));
      expect(await (await fixture.reopen()).firstScan()).toEqual(minutes(1));
    });

    it("dates the last change, overall and per tag, including a deletion", async () => {
      expect(await store.lastChange()).toBeUndefined();
      await store.apply(
        scan(file("a.md", "---\ntags: [x]\n---\nA."), file("b.md", "---\ntags: [y]\n---\nB.")),
        t0,
      );
      expect(await store.lastChange()).toEqual(t0);
      await store.apply(scan(same("a.md")), minutes(5)); // b.md removed
      expect(await store.lastChange()).toEqual(minutes(5));
      expect(await store.lastChange("x")).toEqual(t0);
      expect(await store.lastChange("y")).toEqual(minutes(5));
      expect(await store.lastChange("z")).toBeUndefined();
    });

    it("never reuses a deleted article's id when the file comes back", async () => {
      const [first] = await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      await store.apply(scan(), minutes(1));
      const [again] = await store.apply(scan(file("a.md", "# A\n\nText.")), minutes(2));
      expect(again?.type).toBe("created");
      expect(again?.article.id).not.toBe(first?.article.id);
      expect((await store.findById(first?.article.id ?? ""))?.state).toBe("deleted");
      expect((await store.findBySlug("a"))?.article.id).toBe(again?.article.id);
    });

    it("keeps the state across a restart: no events for unchanged files", async () => {
      await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      const reopened = await fixture.reopen();
      expect(await reopened.apply(scan(same("a.md")), minutes(1))).toEqual([]);
      expect((await reopened.fileStamps()).has("a.md")).toBe(true);
      expect(await reopened.countPublished()).toBe(1);
    });

    it("treats a renamed file with the same text as the same article", async () => {
      const [created] = await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      const events = await store.apply(scan(file("sub/b.md", "# A\n\nText.")), minutes(1));
      expect(summary(events)).toEqual(["updated b"]);
      expect(events[0]?.article.id).toBe(created?.article.id);
      expect(events[0]?.article.path).toBe("sub/b.md");
    });

    it("treats a moved file with the same text and slug as unchanged", async () => {
      await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      expect(await store.apply(scan(file("old/a.md", "# A\n\nText.")), minutes(1))).toEqual([]);
      expect((await store.findBySlug("a"))?.article.path).toBe("old/a.md");
    });

    it("treats a renamed and edited file that keeps its front-matter slug as the same article", async () => {
      const [created] = await store.apply(scan(file("a.md", "---\nslug: story\n---\nText.")), t0);
      const events = await store.apply(
        scan(file("b.md", "---\nslug: story\n---\nNew text.")),
        minutes(1),
      );
      expect(summary(events)).toEqual(["updated story"]);
      expect(events[0]?.article.id).toBe(created?.article.id);
    });

    it("applies a scan in batches: a rename across batches, deletions only with the last batch", async () => {
      const [created] = await store.apply(
        scan(file("a.md", "# A\n\nText."), file("b.md", "# B\n\nText.")),
        t0,
      );
      const gone = ["a.md", "b.md"];
      const first = await store.apply(
        { files: [file("renamed.md", "# A\n\nText.")], gone, final: false },
        minutes(1),
      );
      expect(summary(first)).toEqual(["updated renamed"]);
      expect(first[0]?.article.id).toBe(created?.article.id);
      expect(await store.countPublished()).toBe(2);
      const last = await store.apply(
        { files: [file("c.md", "# C\n\nText.")], gone, final: true },
        minutes(1),
      );
      expect(summary(last)).toEqual(["created c", "deleted b"]);
      expect([...(await store.fileStamps()).keys()].sort()).toEqual(["c.md", "renamed.md"]);
    });

    it("never publishes a draft, and deletes a published article turned into a draft", async () => {
      expect(await store.apply(scan(file("d.md", "---\ndraft: true\n---\nText.")), t0)).toEqual([]);
      expect(await store.countPublished()).toBe(0);
      await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      const events = await store.apply(
        scan(file("a.md", "---\ndraft: true\n---\n# A\n\nText.")),
        minutes(1),
      );
      expect(summary(events)).toEqual(["deleted a"]);
      const [back] = await store.apply(scan(file("a.md", "# A\n\nText.")), minutes(2));
      expect(back?.type).toBe("created");
      expect(back?.article.id).not.toBe(events[0]?.article.id);
    });

    it("publishes a future-dated article at the first scan after its date", async () => {
      const text = "---\ndate: 2026-03-01T12:30:00Z\n---\nLater.";
      expect(await store.apply(scan(file("f.md", text)), t0)).toEqual([]);
      expect(await store.apply(scan(same("f.md")), minutes(29))).toEqual([]);
      const events = await store.apply(scan(same("f.md")), minutes(31));
      expect(summary(events)).toEqual(["created f"]);
      expect(events[0]?.article.published).toEqual(minutes(30));
      expect(await store.apply(scan(same("f.md")), minutes(32))).toEqual([]);
    });

    it("keeps the last good version of an article whose file turns bad", async () => {
      await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      const bad = file("a.md", "---\ntitle: [broken\n---\nText.");
      expect(bad.kind).toBe("skipped");
      expect(await store.apply(scan(bad), minutes(1))).toEqual([]);
      expect((await store.findBySlug("a"))?.state).toBe("published");
      expect((await store.fileStamps()).get("a.md")).toEqual(
        bad.kind === "skipped" ? bad.stamp : undefined,
      );
      const fixed = await store.apply(scan(file("a.md", "# A\n\nText, fixed.")), minutes(2));
      expect(summary(fixed)).toEqual(["updated a"]);
    });

    it("gives a plain-text article the time it was first seen as its date, forever", async () => {
      await store.apply(scan(file("n.txt", "Erster Satz. Zweiter Satz.")), t0);
      const [edit] = await store.apply(
        scan(file("n.txt", "Erster Satz. Zweiter, neuer Satz.")),
        minutes(60),
      );
      expect(edit?.article.published).toEqual(t0);
      const reopened = await fixture.reopen();
      const [again] = await reopened.apply(
        scan(file("n.txt", "Erster Satz. Dritter Satz.")),
        minutes(120),
      );
      expect(again?.article.published).toEqual(t0);
    });

    it("keeps slugs unique among live articles", async () => {
      const events = await store.apply(
        scan(file("x/news.md", "# One\n\nA."), file("y/news.md", "# Two\n\nB.")),
        t0,
      );
      expect(summary(events).sort()).toEqual(["created news", "created news-2"]);
    });

    it("lists published articles newest first, by tag, and counts them", async () => {
      await store.apply(
        scan(
          file("old.md", "---\ndate: 2026-01-01\ntags: [x]\n---\nOld."),
          file("new.md", "---\ndate: 2026-02-01\ntags: [x, y]\n---\nNew."),
          file("draft.md", "---\ndraft: true\ntags: [x]\n---\nDraft."),
        ),
        t0,
      );
      expect((await store.listPublished()).map((a) => a.slug)).toEqual(["new", "old"]);
      expect((await store.listPublished({ limit: 1 })).map((a) => a.slug)).toEqual(["new"]);
      expect((await store.listPublished({ tag: "y" })).map((a) => a.slug)).toEqual(["new"]);
      expect(await store.countPublished()).toBe(2);
      expect((await store.listAll()).map((r) => r.state).sort()).toEqual([
        "draft",
        "published",
        "published",
      ]);
    });

    it("lists the published articles' slugs and dates for the sitemap, newest first", async () => {
      await store.apply(
        scan(
          file("old.md", "---\ndate: 2026-01-01\n---\nOld."),
          file("new.md", "---\ndate: 2026-02-01\nupdated: 2026-02-03\n---\nNew."),
          file("draft.md", "---\ndraft: true\n---\nDraft."),
        ),
        t0,
      );
      expect(await store.listPublishedLinks(10)).toEqual([
        { slug: "new", updated: new Date("2026-02-03") },
        { slug: "old", updated: new Date("2026-01-01") },
      ]);
      expect((await store.listPublishedLinks(1)).map((l) => l.slug)).toEqual(["new"]);
    });

    it("follows an article's tags and state in tag lists and dates: retagged, deleted", async () => {
      await store.apply(
        scan(
          file("a.md", "---\ndate: 2026-01-01\ntags: [x, X]\n---\nA."),
          file("b.md", "---\ndate: 2026-01-02\ntags: [x]\n---\nB."),
        ),
        t0,
      );
      await store.apply(
        scan(file("a.md", "---\ndate: 2026-01-01\ntags: [y]\n---\nA!"), same("b.md")),
        minutes(1),
      );
      expect((await store.listPublished({ tag: "x" })).map((a) => a.slug)).toEqual(["b"]);
      expect((await store.listPublished({ tag: "y" })).map((a) => a.slug)).toEqual(["a"]);
      await store.apply(scan(same("a.md")), minutes(2)); // b.md removed
      expect(await store.listPublished({ tag: "x" })).toEqual([]);
      expect(await store.lastChange("x")).toEqual(minutes(2));
      expect(await store.lastChange("y")).toEqual(minutes(1));
    });

    it("finds a tag whatever its case, umlauts included (fediverse hashtags ignore case)", async () => {
      await store.apply(
        scan(
          file("a.md", "---\ndate: 2026-01-01\ntags: [Haushalt, Übersicht]\n---\nA."),
          file("b.md", "---\ndate: 2026-02-01\ntags: [haushalt]\n---\nB."),
          file("c.md", "---\ndate: 2026-03-01\ntags: [Haus]\n---\nC."),
        ),
        t0,
      );
      for (const tag of ["Haushalt", "haushalt", "HAUSHALT"]) {
        expect((await store.listPublished({ tag })).map((a) => a.slug)).toEqual(["b", "a"]);
      }
      expect((await store.listPublished({ tag: "übersicht" })).map((a) => a.slug)).toEqual(["a"]);
      expect((await store.listPublished({ tag: "ÜBERSICHT" })).map((a) => a.slug)).toEqual(["a"]);
      expect(await store.listPublished({ tag: "haus%" })).toEqual([]);
      expect(await store.lastChange("ÜberSicht")).toEqual(new Date("2026-01-01"));
      expect(await store.lastChange("HAUS")).toEqual(new Date("2026-03-01"));
      expect(await store.lastChange("hau")).toBeUndefined();
    });

    it("offers events to a subscriber until it marks them delivered, across a restart", async () => {
      await store.subscribe("feeds");
      await store.apply(scan(file("a.md", "# A\n\nText."), file("b.md", "# B\n\nText.")), t0);
      const pending = await store.pending("feeds");
      expect(summary(pending)).toEqual(["created a", "created b"]);
      const reopened = await fixture.reopen();
      expect(summary(await reopened.pending("feeds"))).toEqual(["created a", "created b"]);
      await reopened.markDelivered("feeds", pending[0]?.seq ?? 0);
      expect(summary(await reopened.pending("feeds"))).toEqual(["created b"]);
      expect(summary(await reopened.pending("feeds", 1))).toEqual(["created b"]);
    });

    it("offers each pending event with the article as it was then, through edits and a deletion", async () => {
      await store.subscribe("feeds");
      const versions = ["# First\n\nText one.", "# Second\n\nText two.", "# Third\n\nText three."];
      const [created, ...edits] = await store.apply(scan(file("a.md", versions[0] ?? "")), t0);
      for (const [i, text] of versions.slice(1).entries()) {
        edits.push(...(await store.apply(scan(file("a.md", text)), minutes(i + 1))));
      }
      edits.push(...(await store.apply(scan(), minutes(9))));
      const returned = [created, ...edits];
      const pending = await store.pending("feeds");
      expect(pending.map((e) => `${e.type} ${e.article.title}`)).toEqual([
        "created First",
        "updated Second",
        "updated Third",
        "deleted Third",
      ]);
      expect(pending).toEqual(returned);
      expect(await fixture.reopen().then((s) => s.pending("feeds"))).toEqual(returned);
    });

    it("starts a new subscriber after the latest event, and keeps events others still need", async () => {
      await store.subscribe("feeds");
      await store.apply(scan(file("a.md", "# A\n\nText.")), t0);
      await store.subscribe("late");
      expect(await store.pending("late")).toEqual([]);
      await store.apply(scan(same("a.md"), file("b.md", "# B\n\nText.")), minutes(1));
      const late = await store.pending("late");
      await store.markDelivered("late", late.at(-1)?.seq ?? 0);
      expect(summary(await store.pending("feeds"))).toEqual(["created a", "created b"]);
    });

    it("applies the same scan from two instances at once as one set of events", async () => {
      const other = await fixture.another();
      await store.subscribe("feeds");
      const batch = scan(
        ...Array.from({ length: 30 }, (_, i) => file(`n${i}.md`, `# N${i}\n\nText ${i}.`)),
      );
      const [mine, theirs] = await Promise.all([store.apply(batch, t0), other.apply(batch, t0)]);
      expect([mine.length, theirs.length].sort((a, b) => a - b)).toEqual([0, 30]);
      expect(summary(await store.pending("feeds"))).toEqual(summary([...mine, ...theirs]));
      expect(await other.countPublished()).toBe(30);
      expect(await store.apply(scan(...batch.files), minutes(1))).toEqual([]);
    });

    it("gives the scan lock to one holder at a time, and again once released", async () => {
      const other = await fixture.another();
      const lock = await store.tryLockScan();
      expect(lock).toBeDefined();
      expect(await other.tryLockScan()).toBeUndefined();
      expect(await store.tryLockScan()).toBeUndefined();
      await lock?.release();
      await lock?.release();
      const theirs = await other.tryLockScan();
      expect(theirs).toBeDefined();
      expect(await store.tryLockScan()).toBeUndefined();
      await theirs?.release();
      const again = await store.tryLockScan();
      expect(again).toBeDefined();
      await again?.release();
    });

    it("frees the scan lock when the store holding it is closed", async () => {
      const other = await fixture.another();
      expect(await other.tryLockScan()).toBeDefined();
      expect(await store.tryLockScan()).toBeUndefined();
      await other.close();
      const lock = await store.tryLockScan();
      expect(lock).toBeDefined();
      await lock?.release();
    });

    it("frees the scan lock when the process holding it is killed", async () => {
      const { child, said } = await lockInChild(fixture.holderArgs);
      expect(said).toBe("locked");
      expect(await store.tryLockScan()).toBeUndefined();
      child.kill("SIGKILL");
      await once(child, "exit");
      // PostgreSQL ends the session when it sees the connection close: soon, not at once.
      const lock = await lockWithin(store, 10_000);
      expect(lock).toBeDefined();
      await lock?.release();
    });
  });
}
