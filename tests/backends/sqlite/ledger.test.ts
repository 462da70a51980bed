import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { openSqliteDeliveryLedger } from "../../../src/backends/sqlite/ledger.ts";

const create = "https://news.test/objects/1#create";
const other = "https://news.test/objects/2#create";
const inboxes = ["https://a.test/inbox", "https://b.test/inbox", "https://c.test/inbox"];

describe("openSqliteDeliveryLedger()", () => {
  it("writes the settlements of one turn together; only an activity's last says none are pending", async () => {
    const db = new DatabaseSync(":memory:");
    const ledger = openSqliteDeliveryLedger(db);
    await ledger.queued(
      [create, other].flatMap((activityId) =>
        inboxes.map((inbox) => ({ activityId, activityType: "Create", inbox, attempt: 0 })),
      ),
    );
    const commits: string[] = [];
    const exec = db.exec.bind(db);
    db.exec = (sql: string) => {
      if (sql === "COMMIT") commits.push(sql);
      exec(sql);
    };
    const answers = await Promise.all([
      ...inboxes.map((inbox) => ledger.settled(create, inbox, "delivered")),
      ledger.settled(other, inboxes[0] as string, "failed", "HTTP 410"),
    ]);
    expect(commits).toHaveLength(1);
    expect(answers.map((a) => a.pending)).toEqual([true, true, false, true]);
    const rows = await ledger.rows({ activityId: other });
    expect(rows.find((r) => r.inbox === inboxes[0])).toMatchObject({
      state: "failed",
      error: "HTTP 410",
    });
    db.close();
  });
});
