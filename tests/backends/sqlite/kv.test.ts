import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteKvStore } from "../../../src/backends/sqlite/kv.ts";
import { milliseconds } from "../../federation/duration.ts";

async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "herald-kv-"));
}

describe("SqliteKvStore", () => {
  let dir: string;
  let db: DatabaseSync;

  beforeEach(async () => {
    dir = await tempDir();
    db = new DatabaseSync(join(dir, "herald.sqlite"));
  });

  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  function rowCount(table: string): number {
    return (db.prepare(`SELECT COUNT(*) AS n FROM "${table}"`).get() as { n: number }).n;
  }

  it("creates its table and puts the file in WAL mode with a busy timeout", () => {
    new SqliteKvStore(db);
    expect(rowCount("herald_kv")).toBe(0);
    expect(db.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(db.prepare("PRAGMA busy_timeout").get()).toEqual({ timeout: 5000 });
  });

  it("keeps a busy timeout the caller set", () => {
    db.exec("PRAGMA busy_timeout = 1234");
    new SqliteKvStore(db);
    expect(db.prepare("PRAGMA busy_timeout").get()).toEqual({ timeout: 1234 });
  });

  it("uses the table it is given, and refuses a name that is not an identifier", async () => {
    const kv = new SqliteKvStore(db, { tableName: "other_kv" });
    await kv.set(["a"], 1);
    expect(rowCount("other_kv")).toBe(1);
    expect(() => new SqliteKvStore(db, { tableName: 'x"; DROP TABLE y; --' })).toThrow(TypeError);
  });

  it("deletes expired rows when swept and when reopened", async () => {
    const kv = new SqliteKvStore(db);
    await kv.set(["gone", "1"], 1, { ttl: milliseconds(20) });
    await kv.set(["gone", "2"], 2, { ttl: milliseconds(20) });
    await kv.set(["kept"], 3, { ttl: milliseconds(60_000) });
    await sleep(40);
    expect(rowCount("herald_kv")).toBe(3);
    expect(kv.deleteExpired()).toBe(2);
    expect(rowCount("herald_kv")).toBe(1);

    await kv.set(["gone", "3"], 1, { ttl: milliseconds(20) });
    await sleep(40);
    new SqliteKvStore(db); // a restart sweeps
    expect(rowCount("herald_kv")).toBe(1);
  });

  it("rejects a value that is not JSON", async () => {
    const kv = new SqliteKvStore(db);
    await expect(kv.set(["f"], () => 1)).rejects.toThrow(TypeError);
  });
});
