import { getLogger } from "@logtape/logtape";

const logger = getLogger(["herald"]);

/**
 * On SIGTERM or SIGINT, runs `stop` (which ends what the process started, in order) and
 * exits; after 10 s exits anyway, so that a stuck connection never keeps a container alive.
 */
export function onShutdown(stop: () => Promise<void>): void {
  const shutdown = async (signal: string) => {
    logger.info("Received {signal}; shutting down.", { signal });
    const force = setTimeout(() => {
      logger.error("Shutdown took more than 10 s; exiting anyway.");
      process.exit(1);
    }, 10_000);
    force.unref();
    await stop();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}
