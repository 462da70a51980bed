/**
 * The doctor's line about the review queue (`REPLIES=review`): how many replies wait for an
 * editor, read from the interaction store where the configuration puts it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Config } from "../config.ts";
import { connectPostgres } from "../federation/backends.ts";
import { openPostgresInteractionStore } from "../federation/postgres-interactions.ts";
import { createSqliteInteractionStore } from "../federation/sqlite-interactions.ts";
import { type Check, fail, ok, warn } from "./doctor-public.ts";

export async function replyChecks(config: Config): Promise<Check[]> {
  const dbFile = join(config.dataDir, "herald.sqlite");
  if (config.databaseUrl === undefined && !existsSync(dbFile)) return [];
  const sql = config.databaseUrl ? connectPostgres(config.databaseUrl) : undefined;
  const db = sql ? undefined : new DatabaseSync(dbFile);
  try {
    const store = sql
      ? await openPostgresInteractionStore(sql)
      : createSqliteInteractionStore(db as DatabaseSync);
    const held = await store.countHeld();
    const mode = `REPLIES=${config.replies}`;
    if (held > 0) {
      const wait = held === 1 ? "1 reply waits" : `${held} replies wait`;
      return [warn("Replies", `${wait} for review (${mode}): npm run replies`)];
    }
    return [ok("Replies", `none wait for review (${mode})`)];
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return [fail("Replies", `the review queue cannot be read: ${why}`)];
  } finally {
    await sql?.end({ timeout: 1 });
    db?.close();
  }
}
