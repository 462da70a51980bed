/**
 * The parsers of configuration values: each takes a trimmed, non-empty value and returns it
 * parsed, or throws `Invalid` with the rest of a sentence that starts with the setting's name.
 * `config.ts` holds the table of settings; it alone reads the environment.
 */
import { isIP } from "node:net";
import { resolve } from "node:path";
import { validateDetailed } from "node-cron";
import type { RelayConfig } from "./config.ts";
import type { HideRule } from "./interactions.ts";

/**
 * `read(name, fallback, parse)` over `env`: the fallback for an unset or empty value; for a bad
 * one, the fallback too, and a line in `problems` naming the setting, the rule and the value.
 */
export function reader(env: Readonly<Record<string, string | undefined>>, problems: string[]) {
  return <T>(name: string, fallback: T, parse: (value: string) => T): T => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") return fallback;
    try {
      return parse(raw);
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      problems.push(`${name} ${error.message} (got "${raw}").`);
      return fallback;
    }
  };
}

/** Thrown by the parsers below; its message completes "NAME …". */
export class Invalid extends Error {}

export function parsePort(value: string): number {
  return parseInteger(value, 0, 65_535);
}

export function parseInteger(value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new Invalid(`must be a whole number from ${min} to ${max}`);
  }
  return n;
}

export function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new Invalid(`must be one of ${allowed.join(", ")}`);
  return found;
}

export function parseBoolean(value: string): boolean {
  const v = value.toLowerCase();
  if (["true", "1", "yes"].includes(v)) return true;
  if (["false", "0", "no"].includes(v)) return false;
  throw new Invalid('must be "true" or "false"');
}

export function parseOrigin(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Invalid("must be an origin like https://news.example");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Invalid("must start with https:// (or http:// for local testing)");
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    throw new Invalid("must be an origin only, like https://news.example (no path, query or user)");
  }
  return new URL(url.origin);
}

export function parseServiceUrl(value: string, protocols: readonly string[]): URL {
  const url = URL.parse(value);
  if (url && protocols.includes(url.protocol)) return url;
  throw new Invalid(`must be a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}`);
}

/** An https URL, or a path to a local image file (resolved against the working folder). */
export function parseImage(value: string): string {
  if (/^https?:\/\//i.test(value)) return parseServiceUrl(value, ["https:", "http:"]).href;
  if (!/\.(png|jpe?g|gif|webp|avif)$/i.test(value)) {
    throw new Invalid(
      "must be an https:// URL or the path of a .png, .jpg, .gif, .webp or .avif file",
    );
  }
  return resolve(value);
}

export function parseIcon(value: string): string {
  if (!/\.(svg|png|ico)$/i.test(value)) {
    throw new Invalid("must be the path of an .svg, .png or .ico file");
  }
  return resolve(value);
}

/** Actor URLs or `@user@host` handles, separated by commas or spaces. */
export function parseAliases(value: string): readonly string[] {
  const aliases = listOf(value);
  const bad = aliases.filter((alias) => parseAlias(alias) === undefined);
  if (bad.length > 0) {
    throw new Invalid(
      `must list actor URLs (https://…) or handles (@user@host), separated by commas; not ${bad.map((b) => `"${b}"`).join(", ")}`,
    );
  }
  return aliases;
}

/** An https URL, or a handle `user@host` (with or without the leading `@`). */
export function parseAlias(
  value: string,
): URL | { readonly user: string; readonly host: string } | undefined {
  if (/^https?:\/\//i.test(value)) {
    const url = URL.parse(value);
    return url?.hostname ? url : undefined;
  }
  const handle = /^@?([^@\s/]+)@([^@\s/]+)$/.exec(value.replace(/^acct:/i, ""));
  if (handle?.[1] === undefined || handle[2] === undefined) return undefined;
  return URL.canParse(`https://${handle[2]}/`) ? { user: handle[1], host: handle[2] } : undefined;
}

/** The entries of a list separated by commas and/or white space. */
function listOf(value: string): string[] {
  return value.split(/[\s,]+/).filter((entry) => entry !== "");
}

/** Actor URLs, `@user@host` handles and host names, separated by commas and/or white space. */
export function parseHideRules(value: string): HideRule[] {
  return listOf(value).map((entry): HideRule => {
    if (/^[a-z0-9.-]+\.[a-z0-9-]+(:\d+)?$/i.test(entry) && URL.canParse(`https://${entry}/`)) {
      return { domain: entry.toLowerCase() };
    }
    const parsed = parseAlias(entry);
    if (parsed === undefined) {
      throw new Invalid(
        `must list actor URLs, handles (@user@host) or server names (spam.example); not "${entry}"`,
      );
    }
    return parsed instanceof URL ? { actor: parsed.href } : parsed;
  });
}

/**
 * Relay URLs separated by commas and/or white space, each optionally prefixed `mastodon:` or
 * `litepub:`; one entry per URL (the first wins).
 */
export function parseRelays(value: string): RelayConfig[] {
  const relays = new Map<string, RelayConfig>();
  for (const entry of listOf(value)) {
    const prefix = /^(mastodon|litepub):(?!\/\/)/i.exec(entry)?.[1];
    const style = prefix && oneOf(prefix.toLowerCase(), ["mastodon", "litepub"] as const);
    const url = URL.parse(prefix === undefined ? entry : entry.slice(prefix.length + 1));
    if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
      throw new Invalid(
        `must list relay actor URLs like https://relay.example/actor, optionally prefixed mastodon: or litepub: ("${entry}" is not one)`,
      );
    }
    if (url.username || url.password) {
      throw new Invalid(`must list URLs without a user name or password ("${entry}" has one)`);
    }
    url.hash = "";
    if (!relays.has(url.href)) {
      relays.set(url.href, style ? { url, style } : { url });
    }
  }
  return [...relays.values()];
}

/** What express's `trust proxy` names besides addresses and CIDR ranges. */
const PROXY_RANGES = ["loopback", "linklocal", "uniquelocal"];

/**
 * A hop count, or proxy addresses, CIDR ranges and named ranges separated by commas and/or
 * white space. Not `true` (express's "trust every hop"): any client could then choose its
 * own address, and with it escape the inbox rate limit.
 */
export function parseTrustProxy(value: string): number | readonly string[] {
  if (/^\d+$/.test(value)) return parseInteger(value, 1, 100);
  const entries = listOf(value);
  const bad = entries.filter((entry) => {
    if (PROXY_RANGES.includes(entry)) return false;
    const [address = "", bits, ...rest] = entry.split("/");
    const version = isIP(address);
    if (version === 0 || rest.length > 0) return true;
    return (
      bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
    );
  });
  if (bad.length > 0) {
    throw new Invalid(
      `must be the number of proxies in front of Herald, or their addresses or CIDR ranges (or loopback, linklocal, uniquelocal), separated by commas; not ${bad.map((b) => `"${b}"`).join(", ")}`,
    );
  }
  return entries;
}

export function parseCron(value: string): string {
  const fields = value.split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw new Invalid("must be a cron expression of 5 or 6 fields, like */5 * * * *");
  }
  const result = validateDetailed(value);
  if (!result.valid) {
    const why = result.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    throw new Invalid(`is not a valid cron expression (${why})`);
  }
  return value;
}

export function parseUsername(value: string): string {
  if (/^[a-z0-9_]{1,30}$/i.test(value)) return value;
  throw new Invalid("must be 1 to 30 letters, digits or underscores");
}

/** The time zone of the system (from `TZ` or `/etc/localtime`), as the runtime sees it. */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function parseTimeZone(value: string): string {
  try {
    return new Intl.DateTimeFormat("en", { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    throw new Invalid("must be an IANA time zone like Europe/Berlin or America/New_York");
  }
}

export function parseLanguage(value: string): string {
  try {
    const [canonical] = Intl.getCanonicalLocales(value);
    if (canonical) return canonical;
  } catch {
    // reported below
  }
  throw new Invalid("must be a BCP 47 language tag like de or en-GB");
}
