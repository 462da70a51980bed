import { getLogger } from "@logtape/logtape";
import { Redis } from "ioredis";
import { withoutSecrets } from "../redact.ts";

const logger = getLogger(["herald", "backends"]);

/** Connects to Redis at `url`; fails at once, without the password, if it does not answer. */
export async function connectRedis(url: URL): Promise<Redis> {
  const redis = new Redis(url.href, { lazyConnect: true });
  let reason = "";
  // ioredis reports connection trouble as events; without a listener Node would throw.
  redis.on("error", (error: Error) => {
    reason = error.message;
    logger.warn("Redis: {error}", { error });
  });
  try {
    await redis.connect();
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new Error(`Redis at ${withoutSecrets(url)} does not answer: ${reason || error}`, {
      cause: error,
    });
  }
}
