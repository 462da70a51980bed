import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseSections, type SectionConfig, sectionProblems } from "./config-sections.ts";
import {
  oneOf,
  parseAliases,
  parseBoolean,
  parseCron,
  parseHideRules,
  parseIcon,
  parseImage,
  parseInteger,
  parseLanguage,
  parseOrigin,
  parsePort,
  parseRelays,
  parseServiceUrl,
  parseTimeZone,
  parseTrustProxy,
  parseUsername,
  reader,
  systemTimeZone,
} from "./config-values.ts";
import type { ActorType } from "./federation/actor.ts";
import type { PostType } from "./federation/objects.ts";
import type { HideRule, QuotePolicy, RepliesMode, RepliesTrust } from "./interactions.ts";

export type { SectionConfig } from "./config-sections.ts";
export { parseAlias } from "./config-values.ts";

/** `ACCOUNT_USERNAME`'s default; the username is also the actor's identifier in its URLs. */
export const DEFAULT_USERNAME = "news";
/**
 * `DELIVERY_WORKERS`' default. A delivery spends most of its time waiting (for its signature in
 * the thread pool, the connection, the other server's answer), so a fan-out goes as fast as the
 * deliveries under way at once allow: with 16, one to 1,000 servers on loopback took 1.24× as
 * long as a bare script sending 32 at once, with 32 1.10× (docs/benchmarks-history.md,
 * "Cost curves, session by session"); over the internet, where each answer takes tens to
 * hundreds of milliseconds, more so.
 */
export const DEFAULT_DELIVERY_WORKERS = 32;
/** `web` serves and scans (and enqueues deliveries), `worker` delivers, `all` does both. */
export type Role = "web" | "worker" | "all";
export type LogLevel = "debug" | "info" | "warning" | "error";
/** How a relay is subscribed to: see `src/federation/relays.ts`. */
export type RelayStyle = "mastodon" | "litepub";

/** One entry of `RELAYS`: the relay's actor URL (or, Mastodon-style, its inbox URL). */
export interface RelayConfig {
  readonly url: URL;
  /** Set by a `mastodon:` or `litepub:` prefix; otherwise told from the relay's actor. */
  readonly style?: RelayStyle;
}

/** Everything Herald reads from its environment, parsed and checked. See CONTRACT.md. */
export interface Config {
  readonly port: number;
  /** Public origin; every URL, the `acct:` host and the actor ids derive from it. */
  readonly publicUrl: URL;
  readonly articlesDir: string;
  readonly keysDir: string;
  readonly dataDir: string;
  readonly scanSchedule: string;
  /** `WATCH`: publish as soon as a file in `articlesDir` changes, not only on the schedule. */
  readonly watch: boolean;
  readonly accountUsername: string;
  readonly allowPrivateAddress: boolean;
  readonly databaseUrl?: URL | undefined;
  readonly redisUrl?: URL | undefined;
  // Extensions of the contract:
  readonly role: Role;
  readonly siteTitle: string;
  /** `SITE_DESCRIPTION`; unset, pages say a tagline in the site's language. */
  readonly siteDescription?: string | undefined;
  /** Language of the site's own pages and feeds, and of articles whose language can't be told. */
  readonly siteLanguage: string;
  /**
   * `SITE_LANGUAGE` is unset: pages and feeds speak the predominant language of the published
   * articles (`siteLanguage`, English, while there are none).
   */
  readonly languageFromArticles: boolean;
  /** IANA time zone of displayed dates (`TIME_ZONE`, default the system's). */
  readonly timeZone: string;
  /** How many articles the feeds carry. */
  readonly feedLimit: number;
  readonly postType: PostType;
  readonly logLevel: LogLevel;
  readonly logFormat: "text" | "json";
  /** `SITE_ICON`: an .svg, .png or .ico file for the favicon; default a built-in SVG. */
  readonly siteIcon?: string | undefined;
  /** Author named in feeds for articles that name none. */
  readonly siteAuthor: string;
  /** A WebSub hub to announce feed changes to. */
  readonly websubHub?: URL | undefined;
  readonly account: AccountConfig;
  /** Created articles dated further back than this are not pushed to followers. */
  readonly quietImportHours: number;
  /** Deliveries a process makes at once (to different servers; one server's stay in order). */
  readonly deliveryWorkers: number;
  /** How long an outgoing request (a delivery, a key fetch) may wait for the other server. */
  readonly requestTimeoutSeconds: number;
  /** The first retry's delay; later ones double (to 12 h). Shorter only for tests. */
  readonly deliveryFirstRetrySeconds: number;
  /** Inbox POSTs per minute accepted from one remote server, and from one client address. */
  readonly inboxRateLimit: number;
  /**
   * The reverse proxies whose `X-Forwarded-For` names the client (express's `trust proxy`): a
   * hop count, or addresses, CIDR ranges and `loopback`, `linklocal`, `uniquelocal`. Unset:
   * the client is the socket's peer.
   */
  readonly trustProxy?: number | readonly string[] | undefined;
  /** ActivityPub relays to subscribe to and send public posts to. */
  readonly relays: readonly RelayConfig[];
  /** Accounts and servers whose replies, likes and boosts are neither kept nor shown. */
  readonly hideReactionsFrom: readonly HideRule[];
  /**
   * `REPLIES`: `review` (default) keeps a new reply held until an editor approves it
   * (`npm run replies`), `auto` shows it at once, `off` keeps none.
   */
  readonly replies: RepliesMode;
  /** `REPLIES_TRUST`: `approved` (default) shows at once the replies of an approved author. */
  readonly repliesTrust: RepliesTrust;
  /** `SECTIONS`: section accounts that boost the stories carrying their tags. */
  readonly sections: readonly SectionConfig[];
  /**
   * `QUOTE_POLICY`: who may quote the posts (FEP-044f, Mastodon 4.5 quote posts): `public`
   * (default), `followers` of the account, or `nobody`.
   */
  readonly quotePolicy: QuotePolicy;
}

/** How the fediverse account presents itself. Images are an https URL or a local file. */
export interface AccountConfig {
  readonly type: ActorType;
  readonly name: string;
  /** `ACCOUNT_BIO`, else `SITE_DESCRIPTION`; unset, the account has none. */
  readonly bio?: string | undefined;
  readonly avatar?: string | undefined;
  readonly header?: string | undefined;
  /**
   * Other accounts of the same publisher (`alsoKnownAs`), as actor URLs or `user@host`
   * handles: an account can only move here when this one names it.
   */
  readonly aliases: readonly string[];
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Reads the configuration from `env` (the process environment merged with `.env`).
 * Pure: touches neither the file system nor `process.env`. Every bad value is
 * reported at once, one line each, in a thrown `ConfigError`.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const problems: string[] = [];
  const read = reader(env, problems);

  const port = read("PORT", 8080, parsePort);
  const publicUrl = read("PUBLIC_URL", new URL(`http://localhost:${port}`), parseOrigin);
  const accountName = read<string | undefined>("ACCOUNT_NAME", undefined, String);
  // The account's display name names the site as well; the host (without port) says the least.
  const siteTitle = read("SITE_TITLE", accountName ?? publicUrl.hostname, String);
  const siteDescription = read<string | undefined>("SITE_DESCRIPTION", undefined, String);
  const config: Config = {
    port,
    publicUrl,
    articlesDir: resolve(read("ARTICLES_DIR", "./articles", String)),
    keysDir: resolve(read("KEYS_DIR", "./keys", String)),
    dataDir: resolve(read("DATA_DIR", "./data", String)),
    scanSchedule: read("SCAN_SCHEDULE", "* * * * *", parseCron),
    watch: read("WATCH", true, parseBoolean),
    accountUsername: read("ACCOUNT_USERNAME", DEFAULT_USERNAME, parseUsername),
    allowPrivateAddress: read("ALLOW_PRIVATE_ADDRESS", false, parseBoolean),
    databaseUrl: read<URL | undefined>("DATABASE_URL", undefined, (v) =>
      parseServiceUrl(v, ["postgres:", "postgresql:"]),
    ),
    redisUrl: read<URL | undefined>("REDIS_URL", undefined, (v) =>
      parseServiceUrl(v, ["redis:", "rediss:"]),
    ),
    role: read("ROLE", "all", (v) => oneOf(v, ["web", "worker", "all"] as const)),
    siteTitle,
    siteDescription,
    siteLanguage: read("SITE_LANGUAGE", "en", parseLanguage),
    languageFromArticles: (env.SITE_LANGUAGE?.trim() ?? "") === "",
    timeZone: read("TIME_ZONE", systemTimeZone(), parseTimeZone),
    feedLimit: read("FEED_LIMIT", 50, (v) => parseInteger(v, 1, 10_000)),
    postType: read("POST_TYPE", "article", (v) => oneOf(v, ["article", "note"] as const)),
    logLevel: read("LOG_LEVEL", "info", (v) =>
      oneOf(v, ["debug", "info", "warning", "error"] as const),
    ),
    logFormat: read("LOG_FORMAT", "text", (v) => oneOf(v, ["text", "json"] as const)),
    siteIcon: read<string | undefined>("SITE_ICON", undefined, parseIcon),
    siteAuthor: read("SITE_AUTHOR", siteTitle, String),
    websubHub: read<URL | undefined>("WEBSUB_HUB", undefined, (v) =>
      parseServiceUrl(v, ["https:", "http:"]),
    ),
    account: readAccount(read, accountName ?? siteTitle, siteDescription),
    quietImportHours: read("QUIET_IMPORT_HOURS", 6, (v) => parseInteger(v, 0, 24 * 365)),
    deliveryWorkers: read("DELIVERY_WORKERS", DEFAULT_DELIVERY_WORKERS, (v) =>
      parseInteger(v, 1, 256),
    ),
    inboxRateLimit: read("INBOX_RATE_LIMIT", 600, (v) => parseInteger(v, 1, 1_000_000)),
    trustProxy: read<number | readonly string[] | undefined>(
      "TRUST_PROXY",
      undefined,
      parseTrustProxy,
    ),
    requestTimeoutSeconds: read("REQUEST_TIMEOUT_SECONDS", 10, (v) => parseInteger(v, 1, 300)),
    deliveryFirstRetrySeconds: read("DELIVERY_FIRST_RETRY_SECONDS", 60, (v) =>
      parseInteger(v, 1, 3600),
    ),
    relays: read("RELAYS", [], parseRelays),
    hideReactionsFrom: read("HIDE_REACTIONS_FROM", [], parseHideRules),
    replies: read("REPLIES", "review", (v) =>
      oneOf(v.toLowerCase(), ["review", "auto", "off"] as const),
    ),
    repliesTrust: read("REPLIES_TRUST", "approved", (v) =>
      oneOf(v.toLowerCase(), ["approved", "none"] as const),
    ),
    sections: read("SECTIONS", [], parseSections),
    quotePolicy: read("QUOTE_POLICY", "public", (v) =>
      oneOf(v.toLowerCase(), ["public", "followers", "nobody"] as const),
    ),
  };
  problems.push(...sectionProblems(config.sections, config.accountUsername));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The account's settings; `name` is `ACCOUNT_NAME`, else the site's title. */
function readAccount(
  read: ReturnType<typeof reader>,
  name: string,
  siteDescription: string | undefined,
): AccountConfig {
  return {
    type: read("ACCOUNT_TYPE", "Service", (v) =>
      oneOf(v, ["Service", "Person", "Organization", "Application", "Group"] as const),
    ),
    name,
    bio: read<string | undefined>("ACCOUNT_BIO", siteDescription, String),
    avatar: read<string | undefined>("ACCOUNT_AVATAR", undefined, parseImage),
    header: read<string | undefined>("ACCOUNT_HEADER", undefined, parseImage),
    aliases: read<readonly string[]>("ALIASES", [], parseAliases),
  };
}

/**
 * Checks the folders of a loaded configuration: `ARTICLES_DIR` must be a readable folder;
 * `KEYS_DIR` and `DATA_DIR` are created when missing and must be writable.
 */
export function checkFolders(config: Config): void {
  const problems: string[] = [];
  const folders = [
    ["ARTICLES_DIR", config.articlesDir, constants.R_OK | constants.X_OK, false],
    ["KEYS_DIR", config.keysDir, constants.R_OK | constants.W_OK | constants.X_OK, true],
    ["DATA_DIR", config.dataDir, constants.R_OK | constants.W_OK | constants.X_OK, true],
  ] as const;
  for (const [name, path, mode, create] of folders) {
    try {
      if (create) mkdirSync(path, { recursive: true });
      if (!statSync(path).isDirectory()) {
        problems.push(`${name} is not a folder: ${path}`);
        continue;
      }
      accessSync(path, mode);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT"
          ? "does not exist"
          : code === "EACCES"
            ? `is not ${create ? "writable" : "readable"}`
            : `cannot be used (${code ?? String(error)})`;
      problems.push(`${name} ${why}: ${path}`);
    }
  }
  for (const [name, image] of [
    ["ACCOUNT_AVATAR", config.account.avatar],
    ["ACCOUNT_HEADER", config.account.header],
    ["SITE_ICON", config.siteIcon],
  ] as const) {
    if (image === undefined || /^https?:/.test(image)) continue;
    try {
      accessSync(image, constants.R_OK);
    } catch {
      problems.push(`${name} is not a readable file: ${image}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
