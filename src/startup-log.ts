/** What `npm start` tells the operator: where everything is, and what each scan did. */
import { getLogger } from "@logtape/logtape";
import type { Backends } from "./backends/open.ts";
import type { Config } from "./config.ts";
import type { Account } from "./federation/account.ts";
import { describeRelays } from "./federation/relays.ts";
import type { ScanReport } from "./pipeline.ts";
import { fileLine, removalMessage, skippedMessage } from "./source/problems.ts";
import { absolute, paths } from "./urls.ts";

const logger = getLogger(["herald"]);

export function logStartup(config: Config, account: Account, backends: Backends["describe"]): void {
  const url = (path: string) => absolute(config.publicUrl, path).href;
  logger.info("Herald is listening on port {port}.", { port: config.port });
  logger.info("Home page:   {url}", { url: url(paths.home) });
  logger.info("RSS 2.0:     {url}", { url: url(paths.rss) });
  logger.info("Atom 1.0:    {url}", { url: url(paths.atom) });
  logger.info("JSON Feed:   {url}", { url: url(paths.json) });
  logger.info("Fediverse:   {handle} (search for it in Mastodon to follow)", {
    handle: account.handle,
  });
  for (const { section } of account.sections.values()) {
    logger.info("Section:     @{id}@{host} boosts #{tags}; {url}", {
      id: section.id,
      host: config.publicUrl.host,
      tags: section.tags.join(", #"),
      url: url(paths.section(section.id)),
    });
  }
  logger.info("Articles:    {dir}", { dir: config.articlesDir });
  logger.info("Articles in: {backend}", { backend: backends.articles });
  logger.info("Federation:  {backends}", { backends: backends.federation });
  logger.info("Replies:     {mode}", { mode: repliesMode(config) });
  logger.info("Quotes:      {mode}", { mode: quoteModes[config.quotePolicy] });
  if (account.movedTo) {
    logger.warn("This account has moved to {target}: followers were asked to follow it there.", {
      target: account.movedTo.href,
    });
  }
  const aliases = account.options.profile?.aliases ?? [];
  if (aliases.length > 0) {
    logger.info("Also known as: {aliases}", { aliases: aliases.map((a) => a.href).join(", ") });
  }
}

/** Whose quote posts of a story are authorized, as `QUOTE_POLICY` says. */
const quoteModes = {
  public: "anyone may quote the stories (QUOTE_POLICY=public)",
  followers: "only followers may quote the stories (QUOTE_POLICY=followers)",
  nobody: "nobody may quote the stories (QUOTE_POLICY=nobody)",
} as const;

/** What happens to a reply under a story, as `REPLIES` and `REPLIES_TRUST` say. */
function repliesMode(config: Config): string {
  switch (config.replies) {
    case "review":
      return config.repliesTrust === "approved"
        ? "held for review (npm run replies), approved authors' shown at once"
        : "held for review (npm run replies)";
    case "auto":
      return "shown at once (REPLIES=auto)";
    case "off":
      return "not kept (REPLIES=off)";
    default:
      return config.replies satisfies never;
  }
}

export async function logRelays(config: Config, backends: Pick<Backends, "kv">): Promise<void> {
  for (const relay of await describeRelays(backends.kv, config.relays)) {
    logger.info("Relay:       {url}: {state}", { url: relay.url.href, state: relay.text });
  }
}

export function logScan(report: ScanReport): void {
  for (const skipped of report.skipped) {
    logger.warn("Skipped {path}: {reason}", {
      path: fileLine(skipped.path, skipped.line),
      reason: skippedMessage(skipped, report.keptPublished.has(skipped.path)),
    });
  }
  for (const removed of report.removed) {
    logger.warn("{path}: {removal}", {
      path: fileLine(removed.path, removed.line),
      removal: removalMessage(removed),
    });
  }
  const { created, updated, deleted } = report.counted;
  const changed = created + updated + deleted;
  // A first import of thousands of files gets a summary, not a line per article.
  if (changed <= 20) {
    for (const { type, article } of report.changes) {
      logger.info("Article {type}: {title} ({language}, {path})", {
        type,
        title: article.title,
        language: article.language,
        path: paths.article(article.slug),
      });
    }
  }
  if (report.read > 0 || changed > 0) {
    logger.info(
      "Scanned {files} files ({read} read) in {ms} ms: {created} created, {updated} updated, {deleted} deleted.",
      {
        files: report.files,
        read: report.read,
        ms: Math.round(report.durationMs),
        created,
        updated,
        deleted,
      },
    );
  }
}
