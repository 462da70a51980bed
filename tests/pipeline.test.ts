import { copyFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ChangeEvent } from "../src/article.ts";
import { type Publisher, runScan } from "../src/pipeline.ts";
import type { ArticleStore } from "../src/store/store.ts";
import { articlesDir, seedPath, sqliteStore, tempDir } from "./helpers/articles.ts";
import { postgresAvailable, postgresStore } from "./helpers/postgres.ts";

const t0 = new Date("2026-03-01T12:00:00Z");

/** A publisher that records what it was offered, and can be told to fail. */
function recorder(name = "recorder") {
  const seen: string[] = [];
  let failuresLeft = 0;
  const publisher: Publisher = {
    name,
    async publish(events: readonly ChangeEvent[]) {
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new Error("publisher down");
      }
      seen.push(...events.map((e) => `${e.type} ${e.article.slug}`));
    },
  };
  return { publisher, seen, failNext: (n = 1) => (failuresLeft = n) };
}

function scanner(dir: string, publishers: Publisher[] = []) {
  return (store: ArticleStore, now = t0) =>
    runScan({
      articlesDir: dir,
      parseOptions: { defaultLanguage: "en" },
      store,
      publishers,
      now: () => now,
    });
}

/** A store for one test, closed (and its data dropped) when the test ends. */
type OpenStore = () => Promise<{
  readonly store: ArticleStore;
  reopen(): Promise<ArticleStore>;
}>;

const stores: readonly { name: string; open: OpenStore; available: boolean }[] = [
  { name: "SQLite", open: async () => sqliteStore(), available: true },
  { name: "PostgreSQL", open: () => postgresStore(), available: postgresAvailable },
];

for (const { name, open, available } of stores)
  describe.runIf(available)(`runScan() on ${name}`, () => {
    it("publishes the seed story from a fresh folder", async () => {
      const articles = articlesDir();
      copyFileSync(seedPath, articles.path("belarus-nordkorea.txt"));
      const { store } = await open();
      const report = await scanner(articles.dir)(store);
      expect(report.changes).toHaveLength(1);
      expect(report.changes[0]?.article).toMatchObject({
        language: "de",
        slug: "belarus-nordkorea",
      });
      expect(report.changes[0]?.article.title).toMatch(
        /^Wie die beiden Länder am Montag mitteilten/,
      );
    });

    it("scans only the files it is told of: new, changed, renamed and removed", async () => {
      const articles = articlesDir();
      for (const name of ["a", "b", "c", "d"]) articles.write(`s/${name}.md`, `# ${name}\n\nText.`);
      const { store } = await open();
      const scan = (only?: readonly string[]) =>
        runScan(
          {
            articlesDir: articles.dir,
            parseOptions: { defaultLanguage: "en" },
            store,
            publishers: [],
          },
          only,
        );
      await scan();
      articles.write("s/new.md", "# New\n\nText.");
      articles.write("s/a.md", "# A\n\nEdited."); // not named: left for the next full scan
      articles.remove("s/b.md");
      renameSync(articles.path("s/c.md"), articles.path("s/c2.md"));
      articles.write("s/.new.md.swp", "swap");
      const named = await scan(["s/new.md", "s/b.md", "s/c.md", "s/c2.md", "s/.new.md.swp", "s"]);
      expect(named.read).toBe(2);
      const changes = named.changes.map((c) => `${c.type} ${c.article.slug}`).sort();
      expect(changes).toEqual(["created new", "deleted b", "updated c2"]);
      const full = await scan();
      expect(full.changes.map((c) => `${c.type} ${c.article.slug}`)).toEqual(["updated a"]);
      expect((await store.listPublished()).map((a) => a.slug).sort()).toEqual([
        "a",
        "c2",
        "d",
        "new",
      ]);
    });

    it("reads only new or changed files again", async () => {
      const articles = articlesDir();
      articles.write("a.md", "# A\n\nText.");
      articles.write("b.md", "# B\n\nText.");
      const { store } = await open();
      const scan = scanner(articles.dir);
      expect((await scan(store)).read).toBe(2);
      expect((await scan(store)).read).toBe(0);
      articles.write("b.md", "# B\n\nEdited.");
      const report = await scan(store);
      expect(report.read).toBe(1);
      expect(report.changes.map((c) => c.type)).toEqual(["updated"]);
    });

    it("yields nothing after a restart with no file changes, and sees a change made while stopped", async () => {
      const articles = articlesDir();
      articles.write("a.md", "# A\n\nText.");
      articles.write("b.md", "# B\n\nText.");
      const data = await open();
      const feeds = recorder("feeds");
      await data.store.subscribe("feeds");
      await scanner(articles.dir, [feeds.publisher])(data.store);
      expect(feeds.seen).toEqual(["created a", "created b"]);

      // Stopped: one file edited, one removed, one added.
      await data.store.close();
      articles.write("a.md", "# A\n\nEdited while stopped.");
      articles.remove("b.md");
      articles.write("c.md", "# C\n\nNew.");
      const store = await data.reopen();
      const after = await scanner(articles.dir, [feeds.publisher])(store);
      expect(after.changes.map((c) => `${c.type} ${c.article.slug}`)).toEqual([
        "updated a",
        "created c",
        "deleted b",
      ]);
      const again = await scanner(articles.dir, [feeds.publisher])(await data.reopen());
      expect(again.changes).toEqual([]);
      expect(feeds.seen).toEqual(["created a", "created b", "updated a", "created c", "deleted b"]);
    });

    it("keeps a renamed file's article, and deletes nothing", async () => {
      const articles = articlesDir();
      articles.write("draft-name.md", "# Story\n\nText.");
      const { store } = await open();
      const scan = scanner(articles.dir);
      const [created] = (await scan(store)).changes;
      renameSync(articles.path("draft-name.md"), articles.path("final-name.md"));
      const { changes } = await scan(store);
      expect(changes.map((c) => c.type)).toEqual(["updated"]);
      expect(changes[0]?.article.id).toBe(created?.article.id);
      expect(changes[0]?.article.slug).toBe("final-name");
    });

    it("reports bad files with their reason and keeps publishing the rest", async () => {
      const articles = articlesDir();
      articles.write("good.md", "# Good\n\nText.");
      articles.write("empty.md", "");
      articles.write("broken.md", "---\ntitle: [x\n---\nText.");
      articles.write("notes.docx", "PK");
      articles.write("photo.jpg", "JFIF");
      articles.write(".hidden.md", "# Hidden\n\nText.");
      const outside = join(tempDir(), "secret.md");
      writeFileSync(outside, "# Secret\n\nText.");
      symlinkSync(outside, articles.path("link.md"));
      const { store } = await open();
      const report = await scanner(articles.dir)(store);
      expect(report.changes.map((c) => c.article.slug)).toEqual(["good"]);
      expect(report.skipped.map((s) => [s.path, s.reason.split(":")[0]]).sort()).toEqual([
        ["broken.md", "front matter is not valid YAML"],
        ["empty.md", "the file is empty"],
        ["link.md", "a symbolic link to a place outside the articles folder"],
        ["notes.docx", "a .docx file is not an article (use .md or .txt)"],
      ]);
    });

    it("reads the authors file: its handles for named authors, its bad lines reported, never an article", async () => {
      const articles = articlesDir();
      articles.write("authors.yml", 'Jane Doe: "@jane@example.social"\nMax: nobody\n');
      articles.write("wahl.md", "---\nauthor: Jane Doe\n---\n# Wahl\n\nText.");
      const { store } = await open();
      const report = await scanner(articles.dir)(store);
      expect(report.changes.map((c) => c.article.slug)).toEqual(["wahl"]);
      expect(report.skipped).toEqual([expect.objectContaining({ path: "authors.yml", line: 2 })]);
      const wahl = await store.findBySlug("wahl");
      expect(wahl?.article.authorFediverse).toBe("@jane@example.social");
    });

    it("refuses a file over 1 MiB without reading it", async () => {
      const articles = articlesDir();
      articles.write("huge.md", `# Huge\n\n${"x".repeat(6 * 1024 * 1024)}`);
      const { store } = await open();
      const report = await scanner(articles.dir)(store);
      expect(report.skipped[0]?.reason).toBe("too large (6.1 MiB; at most 1 MiB)");
      expect(report.changes).toEqual([]);
    });

    it("publishes a future-dated article at the first scan after its date", async () => {
      const articles = articlesDir();
      articles.write("later.md", "---\ndate: 2026-03-01T13:00:00Z\n---\nLater.");
      const { store } = await open();
      const scan = scanner(articles.dir);
      expect((await scan(store, t0)).changes).toEqual([]);
      const { changes } = await scan(store, new Date("2026-03-01T13:01:00Z"));
      expect(changes.map((c) => c.type)).toEqual(["created"]);
    });

    it("offers events again to a publisher that failed, and not to the one that succeeded", async () => {
      const articles = articlesDir();
      articles.write("a.md", "# A\n\nText.");
      const { store } = await open();
      const first = recorder("first");
      const second = recorder("second");
      for (const p of [first, second]) await store.subscribe(p.publisher.name);
      first.failNext();
      const scan = scanner(articles.dir, [first.publisher, second.publisher]);
      await scan(store);
      expect(first.seen).toEqual([]);
      expect(second.seen).toEqual(["created a"]);
      await scan(store);
      expect(first.seen).toEqual(["created a"]);
      expect(second.seen).toEqual(["created a"]);
    });

    it("lets publishers do their once-per-scan work after every publisher has published", async () => {
      const articles = articlesDir();
      articles.write("a.md", "# A\n\nText.");
      const { store } = await open();
      const order: string[] = [];
      const publisher = (name: string): Publisher => ({
        name,
        publish: async () => void order.push(`${name} published`),
        settled: async () => void order.push(`${name} settled`),
      });
      const publishers = [publisher("site"), publisher("fediverse")];
      for (const p of publishers) await store.subscribe(p.name);
      await scanner(articles.dir, publishers)(store);
      expect(order).toEqual([
        "site published",
        "fediverse published",
        "site settled",
        "fediverse settled",
      ]);
      // Nothing new: nothing published, nothing settled.
      await scanner(articles.dir, publishers)(store);
      expect(order).toHaveLength(4);
    });

    it("skips a scan while another holds the scan lock, and says so", async () => {
      const articles = articlesDir();
      articles.write("a.md", "# A\n\nText.");
      const { store } = await open();
      const feeds = recorder("feeds");
      await store.subscribe("feeds");
      const scan = scanner(articles.dir, [feeds.publisher]);
      const lock = await store.tryLockScan();
      const skipped = await scan(store);
      expect(skipped).toMatchObject({ busy: true, read: 0, changes: [] });
      expect(feeds.seen).toEqual([]);
      await lock?.release();
      const report = await scan(store);
      expect(report.busy).toBe(false);
      expect(report.changes.map((c) => c.type)).toEqual(["created"]);
      expect(feeds.seen).toEqual(["created a"]);
    });

    it("runs one of two scans started at once; the other reports busy", async () => {
      const articles = articlesDir();
      articles.write("a.md", "# A\n\nText.");
      const { store } = await open();
      // The scan that gets the lock holds it until the other has answered: however fast a
      // scan of one file is, the two overlap.
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      await store.subscribe("slow");
      const scan = scanner(articles.dir, [{ name: "slow", publish: () => held }]);
      const started = [scan(store), scan(store)];
      expect((await Promise.race(started)).busy).toBe(true);
      release();
      const reports = await Promise.all(started);
      expect(reports.map((r) => r.busy).sort()).toEqual([false, true]);
      expect(reports.flatMap((r) => r.changes).map((c) => c.type)).toEqual(["created"]);
      expect((await scan(store)).busy).toBe(false);
    });
  });
