import { getLogger } from "@logtape/logtape";
import { schedule as cronSchedule } from "node-cron";

const logger = getLogger(["herald", "schedule"]);

export interface Schedule {
  /** Runs the job now, or waits for the run under way; never two at once. */
  runNow(): Promise<void>;
  /**
   * Runs the job because something changed: now when idle, else once more after the run
   * under way (which may have missed the change), however many calls came during it. `paths`
   * names the files that changed (the job looks at them only); none: every file may have.
   */
  runAfterChange(paths?: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `job` on the cron `expression` (5 or 6 fields), never two runs at once: a tick
 * that comes while a run is under way is skipped (the next run catches up anyway). A run
 * after a change is given the paths that changed; a scheduled run, none (every file).
 */
export function startSchedule(
  expression: string,
  job: (paths?: readonly string[]) => Promise<void>,
): Schedule {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  /** The paths the next run after a change looks at; `undefined`: every file. */
  let nextPaths: Set<string> | undefined;
  let stopped = false;
  const run = (paths?: readonly string[]) => {
    if (stopped) return Promise.resolve();
    running ??= job(paths)
      .catch((error: unknown) => logger.error("Scheduled run failed: {error}", { error }))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const runAfterChange = (paths?: readonly string[]) => {
    if (running === undefined) return run(paths);
    if (next === undefined) nextPaths = new Set();
    if (paths === undefined) nextPaths = undefined;
    else for (const path of paths) nextPaths?.add(path);
    next ??= running.then(() => {
      const named = nextPaths === undefined ? undefined : [...nextPaths];
      next = undefined;
      return run(named);
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
    runNow: () => run(),
    runAfterChange,
    async stop() {
      stopped = true;
      await task.destroy();
      await next;
      await running;
    },
  };
}
