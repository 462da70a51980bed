import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, onTestFinished } from "vitest";
import { openPostgresKvStore } from "../../../src/backends/postgres/kv.ts";
import { milliseconds } from "../../federation/duration.ts";
import { freshPostgresSchema, postgresAvailable } from "../../helpers/backends.ts";

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  describe("PostgresKvStore", () => {
    async function setup() {
      const schema = await freshPostgresSchema();
      onTestFinished(() => schema.dispose());
      return { schema, sql: schema.connect() };
    }

    it("creates its table once when several stores open at once", async () => {
      const { schema } = await setup();
      const stores = await Promise.all(
        Array.from({ length: 4 }, () => openPostgresKvStore(schema.connect())),
      );
      await stores[0]?.set(["a"], 1);
      expect(await stores[3]?.get(["a"])).toBe(1);
    });

    it("uses the table it is given, and refuses a name that is not an identifier", async () => {
      const { sql } = await setup();
      const kv = await openPostgresKvStore(sql, { tableName: "other_kv" });
      await kv.set(["a"], 1);
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::integer AS n FROM other_kv`;
      expect(row?.n).toBe(1);
      await expect(openPostgresKvStore(sql, { tableName: 'x"; DROP TABLE y; --' })).rejects.toThrow(
        TypeError,
      );
    });

    it("keeps values byte for byte, \\u0000 and field order included", async () => {
      const { sql } = await setup();
      const kv = await openPostgresKvStore(sql);
      const value = { z: "nul \u0000 here", a: ["é", "😀"], m: { y: 1, b: 2 } };
      await kv.set(["doc"], value);
      const read = await kv.get<typeof value>(["doc"]);
      expect(read).toEqual(value);
      expect(Object.keys(read ?? {})).toEqual(["z", "a", "m"]);
    });

    it("deletes expired rows when swept and when reopened", async () => {
      const { sql } = await setup();
      const kv = await openPostgresKvStore(sql);
      await kv.set(["gone", "1"], 1, { ttl: milliseconds(20) });
      await kv.set(["gone", "2"], 2, { ttl: milliseconds(20) });
      await kv.set(["kept"], 3, { ttl: milliseconds(60_000) });
      await sleep(40);
      const count = async () =>
        (await sql<{ n: number }[]>`SELECT count(*)::integer AS n FROM herald_kv`)[0]?.n;
      expect(await count()).toBe(3);
      expect(await kv.deleteExpired()).toBe(2);
      expect(await count()).toBe(1);
      await kv.set(["gone", "3"], 1, { ttl: milliseconds(20) });
      await sleep(40);
      await openPostgresKvStore(sql); // a restart sweeps
      expect(await count()).toBe(1);
    });

    it("rejects a value that is not JSON", async () => {
      const { sql } = await setup();
      const kv = await openPostgresKvStore(sql);
      await expect(kv.set(["f"], () => 1)).rejects.toThrow(TypeError);
    });
  });
});
