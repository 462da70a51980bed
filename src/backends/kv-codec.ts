import type { KvKey } from "@fedify/fedify";

// How every KvStore of ours writes keys and values: a key as its JSON text (so element
// boundaries survive any character, and a prefix is a text range), a value as JSON text
// (so it reads back exactly as written; PostgreSQL's jsonb would reorder fields and refuse
// "\u0000").

export function encodeKey(key: KvKey): string {
  return JSON.stringify(key);
}

export function decodeKey(text: string): KvKey {
  return JSON.parse(text) as KvKey;
}

export function encodeValue(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) {
    throw new TypeError(`A key–value store value must be JSON (got ${typeof value}).`);
  }
  return json;
}

/** The value as it would read back after a JSON round trip, for comparing with stored ones. */
export function normalizeValue(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(encodeValue(value));
}

/**
 * The encoded keys that start with `prefix`: the prefix itself (`exact`) and those in the
 * half-open text range [`lo`, `hi`). Keys under a prefix share its JSON text up to its
 * closing bracket, followed by a comma; `,` + 1 is `-`. Compare in code point order
 * (SQLite's default, PostgreSQL's `COLLATE "C"`).
 */
export function prefixRange(prefix: KvKey): { exact: string; lo: string; hi: string } {
  const exact = encodeKey(prefix);
  const open = exact.slice(0, -1);
  return { exact, lo: `${open},`, hi: `${open}-` };
}

/** Orders keys element by element, a key before the keys it is a prefix of. */
export function compareKeys(a: KvKey, b: KvKey): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
