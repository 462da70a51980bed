/**
 * Every outgoing request of the process (deliveries, actor and key fetches, WebSub pings)
 * goes through Node's `fetch`, which waits up to five minutes for an answer. A follower's
 * server that takes the connection and never answers would hold a delivery worker that long,
 * and a handful of them would stall every other delivery. This bounds each phase instead; a
 * request that runs out of time fails like any other and Fedify retries it later.
 */
import { Agent, setGlobalDispatcher } from "undici";

export function limitOutgoingRequests(timeoutMs: number): void {
  setGlobalDispatcher(
    new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
  );
}
