/**
 * NodeInfo 2.1: what software this is, how many posts it has, and what the site is called.
 * https://github.com/jhass/nodeinfo/blob/main/schemas/2.1/schema.json
 */
import type { NodeInfo } from "@fedify/fedify";
import packageJson from "../../package.json" with { type: "json" };

export const SOFTWARE_NAME = "herald";

/**
 * What server directories and crawlers show of the site (issue #18.5). NodeInfo leaves
 * `metadata` free-form; `nodeName` and `nodeDescription` are the keys Misskey, Pleroma,
 * Akkoma and the directories built on them (FediDB, fediverse.observer) read, and
 * `languages` is Mastodon's word for the same list in its instance API.
 */
export interface NodeInfoSite {
  /** `SITE_TITLE`. */
  readonly name: string;
  readonly description?: string;
  /** BCP 47 tags; empty when the site speaks whatever its articles do. */
  readonly languages?: readonly string[];
}

export function toNodeInfo(
  localPosts: number,
  version: string = packageJson.version,
  site?: NodeInfoSite,
): NodeInfo {
  return {
    software: { name: SOFTWARE_NAME, version },
    protocols: ["activitypub"],
    services: { inbound: [], outbound: ["atom1.0", "rss2.0"] },
    openRegistrations: false,
    // One account, and it posts whenever an article is published.
    usage: {
      users: { total: 1, activeMonth: 1, activeHalfyear: 1 },
      localPosts,
      localComments: 0,
    },
    ...(site === undefined ? {} : { metadata: toMetadata(site) }),
  };
}

function toMetadata(site: NodeInfoSite): Record<string, string | string[]> {
  return {
    nodeName: site.name,
    ...(site.description === undefined ? {} : { nodeDescription: site.description }),
    ...(site.languages === undefined || site.languages.length === 0
      ? {}
      : { languages: [...site.languages] }),
  };
}
