import { describe } from "vitest";
import { openPostgresKvStore } from "../../src/federation/postgres-kv.ts";
import { openPostgresMessageQueue } from "../../src/federation/postgres-queue.ts";
import { freshPostgresSchema, postgresAvailable } from "../helpers/backends.ts";
import { fedifyContract } from "./fedify-contract.ts";

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  fedifyContract("PostgresKvStore and PostgresMessageQueue", async () => {
    const schema = await freshPostgresSchema();
    return {
      connect: async () => {
        const sql = schema.connect();
        return {
          kv: await openPostgresKvStore(sql),
          // A long poll: the worker hears of the retry through NOTIFY or its own due time.
          queue: await openPostgresMessageQueue(sql, { pollInterval: { seconds: 30 } }),
        };
      },
      dispose: () => schema.dispose(),
    };
  });
});
