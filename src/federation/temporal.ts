/**
 * `Date` ↔ `Temporal.Instant` for Fedify's vocabulary. Node 24 has no global `Temporal`,
 * so instants come from the polyfill Fedify itself uses; its class types differ from the
 * `esnext.temporal` lib types Fedify declares, hence the runtime guard instead of a cast.
 * Works around that mismatch of Fedify 2.3.6's types; once Node has a global `Temporal` and
 * Fedify uses it, `Temporal.Instant.fromEpochMilliseconds()` replaces the polyfill and the guards.
 */
import { Temporal as Polyfill } from "@js-temporal/polyfill";

export function toInstant(date: Date): Temporal.Instant {
  const instant: unknown = Polyfill.Instant.fromEpochMilliseconds(date.getTime());
  if (!isInstant(instant)) throw new TypeError("The Temporal polyfill did not make an Instant.");
  return instant;
}

export function toDate(instant: Temporal.Instant): Date {
  return new Date(instant.epochMilliseconds);
}

function isInstant(value: unknown): value is Temporal.Instant {
  return Object.prototype.toString.call(value) === "[object Temporal.Instant]";
}

/** A duration of `milliseconds`, e.g. a key–value store entry's `ttl`. */
export function toDuration(milliseconds: number): Temporal.Duration {
  const duration: unknown = Polyfill.Duration.from({ milliseconds });
  if (!isDuration(duration)) throw new TypeError("The Temporal polyfill did not make a Duration.");
  return duration;
}

function isDuration(value: unknown): value is Temporal.Duration {
  return Object.prototype.toString.call(value) === "[object Temporal.Duration]";
}
