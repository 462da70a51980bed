import { describe } from "vitest";
import { openPostgresKvStore } from "../../../src/backends/postgres/kv.ts";
import { openPostgresMessageQueue } from "../../../src/backends/postgres/queue.ts";
import { fedifyContract } from "../../contracts/fedify.ts";
import { freshPostgresSchema, postgresAvailable } from "../../helpers/backends.ts";

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
