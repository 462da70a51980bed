import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteKvStore } from "../../../src/backends/sqlite/kv.ts";
import { SqliteMessageQueue } from "../../../src/backends/sqlite/queue.ts";
import { fedifyContract } from "../../contracts/fedify.ts";

fedifyContract("SqliteKvStore and SqliteMessageQueue", async () => {
  const dir = await mkdtemp(join(tmpdir(), "herald-fedify-"));
  const handles: DatabaseSync[] = [];
  return {
    connect: async () => {
      const db = new DatabaseSync(join(dir, "herald.sqlite"));
      handles.push(db);
      return {
        kv: new SqliteKvStore(db),
        queue: new SqliteMessageQueue(db, { pollInterval: { milliseconds: 50 } }),
      };
    },
    dispose: async () => {
      for (const db of handles) db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
