import { setTimeout as sleep } from "node:timers/promises";
import { getLogger } from "@logtape/logtape";

const logger = getLogger(["herald", "feeds"]);

export interface PingOptions {
  /** Tries per topic, the first included; default 4. */
  readonly attempts?: number;
  /** Wait before the first retry, doubled for each next one; default 1,000 ms. */
  readonly backoffMs?: number;
  /** Per request; default 10,000 ms. */
  readonly timeoutMs?: number;
  /** Stops waiting and retrying, e.g. at shutdown. */
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
}

export interface PingResult {
  readonly topic: URL;
  readonly ok: boolean;
  readonly attempts: number;
  /** Status of the last response, when there was one. */
  readonly status?: number;
}

/**
 * Tells a WebSub hub that `topics` (feed URLs) changed: one `hub.mode=publish` POST per topic,
 * since not every hub reads more than one `hub.url`. Retries network errors, 429 and 5xx with
 * exponential backoff. Never rejects and logs every failure, so callers may leave the promise
 * unawaited.
 */
export function pingHub(
  hub: URL,
  topics: readonly URL[],
  options: PingOptions = {},
): Promise<readonly PingResult[]> {
  return Promise.all(topics.map((topic) => pingTopic(hub, topic, options))).catch(
    (error: unknown) => {
      logger.error("WebSub ping to {hub} failed: {error}", { hub: hub.href, error });
      return topics.map((topic) => ({ topic, ok: false, attempts: 0 }));
    },
  );
}

async function pingTopic(hub: URL, topic: URL, options: PingOptions): Promise<PingResult> {
  const attempts = Math.max(1, options.attempts ?? 4);
  const backoffMs = options.backoffMs ?? 1_000;
  const fetcher = options.fetch ?? fetch;
  let status: number | undefined;
  let made = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    made = attempt;
    let retryable = true;
    try {
      const response = await fetcher(hub, {
        method: "POST",
        // The User-Agent is set for every outgoing request in `federation/delivery/outgoing.ts`.
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ "hub.mode": "publish", "hub.url": topic.href }).toString(),
        signal: requestSignal(options),
        redirect: "error",
      });
      status = response.status;
      await response.body?.cancel();
      if (response.ok) {
        logger.info("WebSub hub {hub} accepted {topic}.", { hub: hub.href, topic: topic.href });
        return { topic, ok: true, attempts: attempt, status };
      }
      retryable = status === 429 || status >= 500;
      logger.warn("WebSub hub {hub} answered {status} for {topic} (try {attempt} of {attempts}).", {
        hub: hub.href,
        status,
        topic: topic.href,
        attempt,
        attempts,
      });
    } catch (error) {
      logger.warn(
        "WebSub ping to {hub} for {topic} failed (try {attempt} of {attempts}): {error}",
        {
          hub: hub.href,
          topic: topic.href,
          attempt,
          attempts,
          error,
        },
      );
    }
    if (!retryable || attempt === attempts || options.signal?.aborted) break;
    try {
      await sleep(backoffMs * 2 ** (attempt - 1), undefined, {
        ref: false,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch {
      break; // aborted
    }
  }
  logger.error("Gave up telling WebSub hub {hub} about {topic}.", {
    hub: hub.href,
    topic: topic.href,
  });
  return {
    topic,
    ok: false,
    attempts: made,
    ...(status === undefined ? {} : { status }),
  };
}

function requestSignal(options: PingOptions): AbortSignal {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  return options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
}
