/**
 * The federation's options from the configuration, shared by `npm start` and the commands
 * that act as the account (`npm run move`), so that both describe the same actor.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import type { Config } from "../config.ts";
import { labelsFor } from "../labels.ts";
import { absolute } from "../urls.ts";
import { DEFAULT_RETRY, type FederationOptions } from "./federation.ts";
import { resolveAliases } from "./migration.ts";

/** An avatar or header given as a local file: served by the app at `url`. */
export interface AccountImage {
  readonly name: string;
  readonly file: string;
  readonly url: URL;
}

/**
 * Avatar and header given as local files: served by the app, linked by URL. The URL carries
 * a digest of the file (`?v=…`): a new picture at the same path is a new URL, so the profile
 * `Update` goes out and Mastodon, which caches images by URL, fetches the new one.
 */
export function localImages(config: Config): Record<string, AccountImage> {
  const images: Record<string, AccountImage> = {};
  for (const [kind, value] of Object.entries({
    avatar: config.account.avatar,
    header: config.account.header,
  })) {
    if (value === undefined || /^https?:/.test(value)) continue;
    const name = `${kind}${extname(value).toLowerCase()}`;
    const url = absolute(config.publicUrl, `/account/${name}`);
    const version = digest(value);
    if (version !== undefined) url.searchParams.set("v", version);
    images[kind] = { name, file: value, url };
  }
  return images;
}

function digest(file: string): string | undefined {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 12);
  } catch {
    return undefined; // the configuration check reports a missing file
  }
}

/**
 * The account as the configuration describes it: its local images and the federation's
 * options, with `ALIASES` looked up (WebFinger for handles).
 */
export async function accountOptions(
  config: Config,
): Promise<{ images: Record<string, AccountImage>; federation: FederationOptions }> {
  const images = localImages(config);
  const aliases = await resolveAliases(config.account.aliases, {
    allowPrivateAddress: config.allowPrivateAddress,
    timeoutMs: config.requestTimeoutSeconds * 1000,
  });
  return { images, federation: toFederationOptions(config, images, aliases) };
}

/** `aliases`: `ALIASES` resolved to actor URLs (`resolveAliases()`). */
export function toFederationOptions(
  config: Config,
  images: Record<string, AccountImage>,
  aliases: readonly URL[],
): FederationOptions {
  const image = (kind: "avatar" | "header") => {
    const url = images[kind]?.url ?? URL.parse(config.account[kind] ?? "");
    return url ? { [kind]: url } : {};
  };
  return {
    origin: config.publicUrl,
    username: config.accountUsername,
    allowPrivateAddress: config.allowPrivateAddress,
    postType: config.postType,
    site: {
      name: config.siteTitle,
      description: config.siteDescription ?? labelsFor(config.siteLanguage).tagline,
      languages: config.languageFromArticles ? [] : [config.siteLanguage],
    },
    timeZone: config.timeZone,
    quotePolicy: config.quotePolicy,
    profile: {
      type: config.account.type,
      name: config.account.name,
      summary: config.account.bio,
      ...image("avatar"),
      ...image("header"),
      aliases,
    },
    retry: { ...DEFAULT_RETRY, initialDelay: { seconds: config.deliveryFirstRetrySeconds } },
    deliveryWorkers: config.deliveryWorkers,
  };
}
