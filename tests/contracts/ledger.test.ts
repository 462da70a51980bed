import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { beforeEach, describe, expect, it } from "vitest";
import { openPostgresDeliveryLedger } from "../../src/backends/postgres/ledger.ts";
import { openSqliteDeliveryLedger } from "../../src/backends/sqlite/ledger.ts";
import { type DeliveryLedger, summarize } from "../../src/federation/delivery/ledger.ts";
import { describeError } from "../../src/federation/delivery/tracking.ts";
import { freshPostgresSchema, postgresAvailable } from "../helpers/backends.ts";

const create = "https://news.test/objects/1#create";
const update = "https://news.test/objects/1#update-2";
const inboxes = ["https://a.test/inbox", "https://b.test/inbox", "https://b.test/users/c/inbox"];

function ledgerContract(
  name: string,
  open: () => Promise<{ ledger: DeliveryLedger; close: () => Promise<void> }>,
) {
  describe(`DeliveryLedger contract: ${name}`, () => {
    let ledger: DeliveryLedger;
    beforeEach(async (context) => {
      const opened = await open();
      ledger = opened.ledger;
      context.onTestFinished(opened.close);
    });

    const queue = (activityId: string, attempt = 0, error?: string, only = inboxes) =>
      ledger.queued(
        only.map((inbox) => ({ activityId, activityType: "Create", inbox, attempt, error })),
      );

    it("counts pending, delivered and failed deliveries per activity and per host", async () => {
      await queue(create);
      expect(await ledger.settled(create, inboxes[0] as string, "delivered")).toEqual({
        pending: true,
      });
      // A retry keeps the delivery pending, with its attempt and the error that caused it.
      await queue(create, 1, "HTTP 500", [inboxes[1] as string]);
      expect(await ledger.settled(create, inboxes[2] as string, "failed", "HTTP 410")).toEqual({
        pending: true,
      });
      const [report] = summarize(await ledger.rows());
      expect(report).toMatchObject({ activityId: create, delivered: 1, pending: 1, failed: 1 });
      expect(report?.hosts).toEqual([
        { host: "b.test", delivered: 0, pending: 1, failed: 1, error: "HTTP 410" },
        { host: "a.test", delivered: 1, pending: 0, failed: 0 },
      ]);
      const rows = await ledger.rows({ activityId: create });
      expect(rows.find((r) => r.inbox === inboxes[1])).toMatchObject({
        state: "pending",
        attempts: 1,
        error: "HTTP 500",
      });
      // The last pending delivery settling says so.
      expect(await ledger.settled(create, inboxes[1] as string, "delivered")).toEqual({
        pending: false,
      });
    });

    it("records a fan-out to 12,000 inboxes in one call, a repeated inbox once", async () => {
      const many = Array.from({ length: 12_000 }, (_, i) => `https://s${i}.test/inbox`);
      await ledger.queued([
        ...many.map((inbox) => ({ activityId: create, activityType: "Create", inbox, attempt: 0 })),
        { activityId: create, activityType: "Create", inbox: many[0] as string, attempt: 1 },
      ]);
      const rows = await ledger.rows({ activityId: create });
      expect(rows).toHaveLength(12_000);
      expect(rows.find((r) => r.inbox === many[0])?.attempts).toBe(1);
    });

    it("says which of some inboxes an activity was delivered to", async () => {
      await queue(create);
      await queue(update);
      await ledger.settled(create, inboxes[0] as string, "delivered");
      await ledger.settled(create, inboxes[1] as string, "failed", "HTTP 410");
      await ledger.settled(update, inboxes[2] as string, "delivered");
      const asked = [...inboxes, "https://unknown.test/inbox"];
      expect([...(await ledger.delivered(create, asked))]).toEqual([inboxes[0]]);
      expect([...(await ledger.delivered(update, asked))]).toEqual([inboxes[2]]);
      expect((await ledger.delivered(create, [])).size).toBe(0);
    });

    it("says whether some delivery of an activity has not been tried yet", async () => {
      await queue(create);
      expect(await ledger.untried(create)).toBe(true);
      await ledger.settled(create, inboxes[0] as string, "delivered");
      await ledger.settled(create, inboxes[1] as string, "failed", "HTTP 410");
      expect(await ledger.untried(create)).toBe(true);
      await queue(create, 1, "HTTP 500", [inboxes[2] as string]); // a retry: tried once
      expect(await ledger.untried(create)).toBe(false);
      expect(await ledger.untried(update)).toBe(false);
    });

    it("keeps the last error when a delivery is queued again without one", async () => {
      const inbox = inboxes[0] as string;
      await queue(create, 0, undefined, [inbox]);
      await queue(create, 1, "HTTP 500", [inbox]);
      await queue(create, 1, undefined, [inbox]); // held by the circuit breaker: no new error
      const [row] = await ledger.rows({ activityId: create });
      expect(row).toMatchObject({ state: "pending", attempts: 1, error: "HTTP 500" });
      // Settled delivered: the error of a former attempt is not the outcome.
      await ledger.settled(create, inbox, "delivered");
      expect((await ledger.rows({ activityId: create }))[0]).toMatchObject({
        state: "delivered",
        error: null,
      });
    });

    it("lists the newest activities first, as many as asked", async () => {
      await queue(create);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await queue(update);
      const reports = summarize(await ledger.rows({ limit: 1 }));
      expect(reports.map((r) => r.activityId)).toEqual([update]);
      expect(summarize(await ledger.rows()).map((r) => r.activityId)).toEqual([update, create]);
    });
  });
}

describe("describeError(): a delivery error in one short line", () => {
  it("names the HTTP status, or the innermost cause without the inbox URL", () => {
    expect(describeError(Object.assign(new Error("x"), { statusCode: 500 }))).toBe("HTTP 500");
    const refused = new Error("http://a.test/inbox: fetch failed", {
      cause: new TypeError("fetch failed", {
        cause: new Error("connect ECONNREFUSED 127.0.0.1:9"),
      }),
    });
    expect(describeError(refused)).toBe("fetch failed: connect ECONNREFUSED 127.0.0.1:9");
    expect(
      describeError(new TypeError("fetch failed", { cause: new TypeError("fetch failed") })),
    ).toBe("fetch failed");
    expect(describeError("line one\nline two")).toBe("line one");
  });
});

ledgerContract("SQLite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "herald-ledger-"));
  const db = new DatabaseSync(join(dir, "herald.sqlite"));
  return {
    ledger: openSqliteDeliveryLedger(db),
    close: async () => {
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe.skipIf(!postgresAvailable)("PostgreSQL", () => {
  ledgerContract("PostgreSQL", async () => {
    const schema = await freshPostgresSchema();
    return {
      ledger: await openPostgresDeliveryLedger(schema.connect()),
      close: () => schema.dispose(),
    };
  });
});
