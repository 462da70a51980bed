import { getLogger } from "@logtape/logtape";
import { schedule as cronSchedule } from "node-cron";

const logger = getLogger(["herald", "schedule"]);

export interface Schedule {
  /** Runs the job now, or waits for the run under way; never two at once. */
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `job` on the cron `expression` (5 or 6 fields), never two runs at once: a tick
 * that comes while a run is under way is skipped (the next run catches up anyway).
 */
export function startSchedule(expression: string, job: () => Promise<void>): Schedule {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= job()
      .catch((error: unknown) => logger.error("Scheduled run failed: {error}", { error }))
      .finally(() => {
        running = undefined;
      });
    return running;
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
    async stop() {
      await task.destroy();
      await running;
    },
  };
}
