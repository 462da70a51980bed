/**
 * NodeInfo 2.1: what software this is, and how many posts it has.
 * https://github.com/jhass/nodeinfo/blob/main/schemas/2.1/schema.json
 */
import type { NodeInfo } from "@fedify/fedify";
import packageJson from "../../package.json" with { type: "json" };

export const SOFTWARE_NAME = "herald";

export function toNodeInfo(localPosts: number, version: string = packageJson.version): NodeInfo {
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
  };
}
