import { describe, expect, it } from "vitest";
import { startSchedule } from "../src/schedule.ts";

describe("startSchedule()", () => {
  it("runs on the schedule and never two runs at once", async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const schedule = startSchedule("* * * * * *", async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      running--;
      runs++;
    });
    await new Promise((resolve) => setTimeout(resolve, 3600));
    await schedule.stop();
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(maxRunning).toBe(1);
  });

  it("joins a run under way when asked to run now", async () => {
    let runs = 0;
    const schedule = startSchedule("0 0 1 1 *", async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      runs++;
    });
    await Promise.all([schedule.runNow(), schedule.runNow()]);
    expect(runs).toBe(1);
    await schedule.runNow();
    expect(runs).toBe(2);
    await schedule.stop();
  });

  it("keeps going after a failed run", async () => {
    let calls = 0;
    const schedule = startSchedule("0 0 1 1 *", async () => {
      calls++;
      if (calls === 1) throw new Error("boom");
    });
    await schedule.runNow();
    await schedule.runNow();
    expect(calls).toBe(2);
    await schedule.stop();
  });

  it("runs once more after the run under way when a change comes during it, however many", async () => {
    let runs = 0;
    let running = 0;
    let maxRunning = 0;
    const schedule = startSchedule("0 0 1 1 *", async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 50));
      running--;
      runs++;
    });
    const first = schedule.runAfterChange();
    const again = [schedule.runAfterChange(), schedule.runAfterChange(), schedule.runNow()];
    await first;
    expect(runs).toBe(1);
    await Promise.all(again);
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
    await schedule.runAfterChange();
    expect(runs).toBe(3);
    await schedule.stop();
  });

  it("gives a run after changes the paths asked for meanwhile, or none once every file was", async () => {
    const runs: (readonly string[] | undefined)[] = [];
    const schedule = startSchedule("0 0 1 1 *", async (paths) => {
      runs.push(paths);
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    const first = schedule.runAfterChange(["a.md"]);
    const second = [schedule.runAfterChange(["b.md"]), schedule.runAfterChange(["c.md", "b.md"])];
    await Promise.all([first, ...second]);
    expect(runs).toEqual([["a.md"], ["b.md", "c.md"]]);
    const during = schedule.runAfterChange(["e.md"]);
    const after = [schedule.runAfterChange(), schedule.runAfterChange(["f.md"])];
    await Promise.all([during, ...after]);
    await schedule.runNow();
    expect(runs.slice(2)).toEqual([["e.md"], undefined, undefined]);
    await schedule.stop();
  });

  it("starts no run after it stopped, not even one asked for during the last", async () => {
    let runs = 0;
    const schedule = startSchedule("0 0 1 1 *", async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      runs++;
    });
    void schedule.runNow();
    const after = schedule.runAfterChange();
    await schedule.stop();
    await after;
    expect(runs).toBe(1);
    await schedule.runAfterChange();
    expect(runs).toBe(1);
  });
});
