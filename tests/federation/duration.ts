import { Temporal as TemporalPolyfill } from "@js-temporal/polyfill";

/**
 * A Temporal.Duration as Fedify hands one in: an `@js-temporal/polyfill` instance (Node 24
 * has no global Temporal), typed as the `esnext.temporal` lib type its interfaces declare.
 * The two types do not match structurally, hence the cast.
 */
export function milliseconds(ms: number): Temporal.Duration {
  return TemporalPolyfill.Duration.from({ milliseconds: ms }) as unknown as Temporal.Duration;
}
