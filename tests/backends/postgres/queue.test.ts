import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, onTestFinished } from "vitest";
import { openPostgresMessageQueue } from "../../../src/backends/postgres/queue.ts";
import { waitUntil } from "../../contracts/queue.ts";
import { milliseconds } from "../../federation/duration.ts";
import { freshPostgresSchema, postgresAvailable } from "../../helpers/backends.ts";

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  describe("PostgresMessageQueue", () => {
    async function setup() {
      const schema = await freshPostgresSchema();
      const controllers: AbortController[] = [];
      const running: Promise<void>[] = [];
      onTestFinished(async () => {
        for (const controller of controllers) controller.abort();
        await Promise.all(running);
        await schema.dispose();
      });
      const listen = (
        queue: Awaited<ReturnType<typeof openPostgresMessageQueue>>,
        handler: (message: unknown) => void,
      ) => {
        const controller = new AbortController();
        controllers.push(controller);
        running.push(queue.listen(handler, { signal: controller.signal }));
      };
      return { schema, sql: schema.connect(), listen };
    }

    it("creates its table once when several queues open at once", async () => {
      const { schema } = await setup();
      const queues = await Promise.all(
        Array.from({ length: 4 }, () => openPostgresMessageQueue(schema.connect())),
      );
      await queues[0]?.enqueue("x");
      expect(await queues[3]?.getDepth()).toEqual({ queued: 1, ready: 1, delayed: 0 });
    });

    it("writes the enqueues of one tick together, keys and delays included, refusing an unencodable one alone", async () => {
      const { sql, listen } = await setup();
      const queue = await openPostgresMessageQueue(sql, { pollInterval: { milliseconds: 20 } });
      const results = await Promise.allSettled([
        // As Fedify enqueues a fan-out with an ordering key: one enqueue() per inbox, at once.
        ...Array.from({ length: 1200 }, (_, i) =>
          queue.enqueue({ inbox: `https://s${i}.test/inbox` }, { orderingKey: `story\n${i}` }),
        ),
        queue.enqueue({ inbox: "later" }, { delay: milliseconds(3_600_000) }),
        queue.enqueue(undefined),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1201);
      expect(results.at(-1)).toMatchObject({ status: "rejected", reason: expect.any(TypeError) });
      expect(await queue.getDepth()).toEqual({ queued: 1201, ready: 1200, delayed: 1 });
      const [keys] = await sql<{ n: number }[]>`
        SELECT count(DISTINCT ordering_key)::integer AS n FROM herald_queue`;
      expect(keys?.n).toBe(1200);
      const seen = new Set<string>();
      listen(queue, (message) => {
        seen.add((message as { inbox: string }).inbox);
      });
      await waitUntil(() => seen.size === 1200, 30_000);
      expect(seen.has("later")).toBe(false);
    });

    it("refuses a table name that is not an identifier", async () => {
      const { sql } = await setup();
      await expect(openPostgresMessageQueue(sql, { tableName: "a-b" })).rejects.toThrow(TypeError);
    });

    it("keeps queues in different tables apart", async () => {
      const { sql, listen } = await setup();
      const first = await openPostgresMessageQueue(sql, { pollInterval: { milliseconds: 20 } });
      const second = await openPostgresMessageQueue(sql, {
        tableName: "other_queue",
        pollInterval: { milliseconds: 20 },
      });
      const received: unknown[] = [];
      listen(second, (message) => {
        received.push(message);
      });
      await first.enqueue("first's");
      await second.enqueue("second's");
      await waitUntil(() => received.length === 1);
      await sleep(100);
      expect(received).toEqual(["second's"]);
      expect(await first.getDepth()).toMatchObject({ queued: 1 });
    });

    it("does not claim a key's message while another claim of that key holds its lock", async () => {
      const { schema, sql, listen } = await setup();
      const queue = await openPostgresMessageQueue(sql, { pollInterval: { milliseconds: 20 } });
      await queue.enqueue("keyed", { orderingKey: "k" });
      await queue.enqueue("free");
      // What a claim of key k holds until it commits (see #claim):
      const lockName = `herald:queue:${JSON.stringify([schema.schema, "herald_queue"])}:k`;
      const holder = schema.connect();
      const handled: unknown[] = [];
      await holder.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtextextended(${lockName}, 0))`;
        listen(queue, (message) => {
          handled.push(message);
        });
        await waitUntil(() => handled.length === 1);
        await sleep(200);
        expect(handled).toEqual(["free"]);
      });
      await waitUntil(() => handled.length === 2);
      expect(handled).toEqual(["free", "keyed"]);
    });

    it("drops a message that was handed out too often without an acknowledgement", async () => {
      const { sql, listen } = await setup();
      const queue = await openPostgresMessageQueue(sql, {
        pollInterval: { milliseconds: 20 },
        maxDeliveries: 3,
      });
      await queue.enqueue("poison");
      await queue.enqueue("fine");
      // As if three listeners in a row had died while handling it:
      await sql`
        UPDATE herald_queue SET deliveries = 3, lease_token = gen_random_uuid(),
          lease_until = now() - interval '1 millisecond'
        WHERE message = ${JSON.stringify("poison")}`;
      const handled: unknown[] = [];
      listen(queue, (message) => {
        handled.push(message);
      });
      await waitUntil(() => handled.includes("fine"));
      await sleep(100);
      expect(handled).toEqual(["fine"]);
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::integer AS n FROM herald_queue`;
      expect(row?.n).toBe(0);
    });
  });
});
