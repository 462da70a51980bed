import { describe, expect, it } from "vitest";
import {
  type Finished,
  type Lease,
  type LeaseSource,
  listenSettings,
  listenWithLeases,
  type Round,
  Sleepers,
} from "../../src/backends/lease-listener.ts";
import { waitUntil } from "../contracts/queue.ts";

/** A source handing out `messages` in rounds, whose first `failures` rounds fail. */
function roundSource(messages: string[], failures: number) {
  const waiting = messages.map((message, i) => ({
    id: String(i),
    message: JSON.stringify(message),
    deliveries: 1,
  }));
  const acknowledged: string[] = [];
  let failing = failures;
  const rounds: { done: number; count: number }[] = [];
  const source: LeaseSource = {
    claim: () => Promise.reject(new Error("not used with settleAndClaim")),
    renew: async () => true,
    acknowledge: () => Promise.reject(new Error("not used with settleAndClaim")),
    async settleAndClaim(done: readonly Finished[], _token: string, count: number) {
      rounds.push({ done: done.length, count });
      if (failing > 0 && done.length > 0) {
        failing--;
        throw new Error("database is locked");
      }
      for (const { lease } of done) acknowledged.push(lease.id);
      const leases: Lease[] = waiting.splice(0, count);
      return { acknowledged: done.map(() => true), leases } satisfies Round;
    },
  };
  return { source, acknowledged, rounds };
}

describe("listenWithLeases() with settleAndClaim", () => {
  it("keeps the acknowledgements of a failed round for the next, running each handler once", async () => {
    const { source, acknowledged, rounds } = roundSource(["a", "b", "c"], 2);
    const handled: string[] = [];
    const stop = new AbortController();
    const settings = listenSettings({ workers: 2, pollInterval: { milliseconds: 10 } }, 10);
    const listening = listenWithLeases(
      source,
      (message: string) => {
        handled.push(message);
      },
      stop.signal,
      settings,
      new Sleepers(),
    );
    await waitUntil(() => acknowledged.length === 3);
    stop.abort();
    await listening;
    expect(handled.sort()).toEqual(["a", "b", "c"]);
    expect(acknowledged.sort()).toEqual(["0", "1", "2"]);
    // The first round claimed for both workers at once; two failed, their acknowledgements kept.
    expect(rounds[0]).toEqual({ done: 0, count: 2 });
    expect(rounds.filter((r) => r.done > 0).length).toBeGreaterThanOrEqual(3);
  });

  it("acknowledges the handlers still running when stopped before it returns", async () => {
    const { source, acknowledged } = roundSource(["slow"], 0);
    const stop = new AbortController();
    let release = () => {};
    let started = false;
    const listening = listenWithLeases(
      source,
      () =>
        new Promise<void>((resolve) => {
          started = true;
          release = resolve;
        }),
      stop.signal,
      listenSettings({ workers: 4, pollInterval: { milliseconds: 10 } }, 10),
      new Sleepers(),
    );
    await waitUntil(() => started);
    stop.abort();
    setTimeout(() => release(), 20);
    await listening;
    expect(acknowledged).toEqual(["0"]);
  });
});
