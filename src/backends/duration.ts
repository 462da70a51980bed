import { Temporal as TemporalPolyfill } from "@js-temporal/polyfill";

/**
 * Milliseconds of a duration. Takes a Temporal.Duration (Fedify hands in instances of
 * `@js-temporal/polyfill`, whose type does not match the `esnext.temporal` lib type, so
 * only its `total()` is used) or a plain duration-like object such as `{ seconds: 30 }`.
 * The `total` check can go with the polyfill (see federation/temporal.ts).
 */
export function toMilliseconds(duration: Temporal.Duration | Temporal.DurationLikeObject): number {
  if ("total" in duration && typeof duration.total === "function") {
    return duration.total("millisecond");
  }
  // The lib type allows `undefined` fields, the polyfill's leaves them out; the values agree.
  return TemporalPolyfill.Duration.from(duration as TemporalPolyfill.DurationLike).total(
    "millisecond",
  );
}
