import { getLogger } from "@logtape/logtape";
import { schedule as cronSchedule } from "node-cron";

const logger = getLogger(["herald", "schedule"]);

export interface Schedule {
  /** Runs the job now, or waits for the run under way; never two at once. */
  runNow(): Promise<void>;
  /**
   * Runs the job because something changed: now when idle, else once more after the run
   * under way (which may have missed the change), however many calls came during it.
   */
  runAfterChange(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `job` on the cron `expression` (5 or 6 fields), never two runs at once: a tick
 * that comes while a run is under way is skipped (the next run catches up anyway).
 */
export function startSchedule(expression: string, job: () => Promise<void>): Schedule {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (stopped) return Promise.resolve();
    running ??= job()
      .catch((error: unknown) => logger.error("Scheduled run failed: {error}", { error }))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const runAfterChange = () => {
    if (running === undefined) return run();
    next ??= running.then(() => {
      next = undefined;
      return run();
    });
    return next;
  };
  const task = cronSchedule(
    expression,
    () => {
      if (running) logger.debug("Skipped a tick: the previous run is still under way.");
      else void run();
    },
    { name: "scan", noOverlap: true },
  );
  return {
    runNow: run,
    runAfterChange,
    async stop() {
      stopped = true;
      await task.destroy();
      await next;
      await running;
    },
  };
}
