import { randomUUID } from "node:crypto";
import { describe, expect, it, onTestFinished } from "vitest";
import { openPostgresArticleStore } from "../../src/store/postgres.ts";
import {
  dropSchema,
  postgresAvailable,
  postgresStore,
  testDatabaseUrl,
} from "../helpers/postgres.ts";
import { describeArticleStore } from "./store-contract.ts";

describe.runIf(postgresAvailable)("PostgreSQL", () => {
  describeArticleStore("PostgresArticleStore", async () => {
    const fixture = await postgresStore();
    return {
      store: fixture.store,
      reopen: () => fixture.reopen(),
      another: () => fixture.another(),
      holderArgs: ["postgres", testDatabaseUrl.href, fixture.schema],
    };
  });

  describe("openPostgresArticleStore()", () => {
    it("creates the schema and tables once when several processes start at once", async () => {
      const schema = `herald_test_${randomUUID().replaceAll("-", "")}`;
      const opening = Array.from({ length: 4 }, () =>
        openPostgresArticleStore(testDatabaseUrl, { schema, max: 1 }),
      );
      onTestFinished(async () => {
        const opened = await Promise.allSettled(opening);
        for (const result of opened) if (result.status === "fulfilled") await result.value.close();
        await dropSchema(schema);
      });
      const stores = await Promise.all(opening);
      for (const store of stores) expect(await store.countPublished()).toBe(0);
    });

    it("refuses a schema name it would have to quote", async () => {
      await expect(
        openPostgresArticleStore(testDatabaseUrl, { schema: 'x"; DROP TABLE y; --' }),
      ).rejects.toThrow(/schema name/);
    });
  });
});
