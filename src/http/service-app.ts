import { join } from "node:path";
import type { Express } from "express";
import type { Backends } from "../backends/open.ts";
import type { Config } from "../config.ts";
import type { Account } from "../federation/account.ts";
import { createApp, createHealthApp } from "./app.ts";
import { federationMiddleware } from "./federation/mount.ts";
import { createImageResizer } from "./media.ts";
import type { Site } from "./site.ts";

/**
 * What a process serves: the site and the account's federation, or, for `ROLE=worker`, which
 * only delivers, `/healthz` and `/readyz` alone.
 */
export function serviceApp(
  config: Config,
  site: Site,
  account: Account,
  backends: Pick<Backends, "articles" | "queue" | "kv">,
): Express {
  const ready = async () => {
    await backends.articles.countPublished();
    await backends.queue.getDepth();
  };
  if (config.role === "worker") return createHealthApp(ready);
  return createApp({
    site,
    federation: federationMiddleware(
      { federation: account.federation, store: backends.articles, kv: backends.kv },
      {
        ...account.options,
        inboxRateLimit: config.inboxRateLimit,
        sectionIds: [...account.sections.keys()],
      },
    ),
    articlesDir: config.articlesDir,
    resizer: createImageResizer(join(config.dataDir, "media")),
    accountImages: Object.fromEntries(
      Object.values(account.images).map(({ name, file }) => [name, file]),
    ),
    ready,
    trustProxy: config.trustProxy,
    follow: {
      actor: account.actor,
      sections: new Map(
        [...account.sections.keys()].map((id) => [
          id,
          account.federation.createContext(config.publicUrl).getActorUri(id),
        ]),
      ),
      allowPrivateAddress: config.allowPrivateAddress,
    },
  });
}
