/**
 * The composition root: configuration → stores → federation and site → HTTP + schedule.
 * Everything else is a factory; only this file starts things.
 */
import type { Server } from "node:http";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { Config } from "./config.ts";
import { configOrExit } from "./env.ts";
import { unreachableOrigins } from "./federation/delivery/gone-servers.ts";
import { reuseImportedPrivateKeys } from "./federation/delivery/key-reuse.ts";
import { limitOutgoingRequests } from "./federation/delivery/outgoing.ts";
import { createFederationPublisher } from "./federation/delivery/publisher.ts";
import { accountActor, buildFederation } from "./federation/federation.ts";
import { loadOrCreateKeys, MissingKeysError } from "./federation/keys.ts";
import { readMovedTo } from "./federation/migration.ts";
import { accountOptions } from "./federation/options.ts";
import { announceProfileChange } from "./federation/profile-update.ts";
import { describeRelays, relayRecipients, syncRelays } from "./federation/relays.ts";
import { createApp, createHealthApp } from "./http/app.ts";
import { readIcon } from "./http/favicon.ts";
import { federationMiddleware } from "./http/federation/mount.ts";
import { createImageResizer } from "./http/media.ts";
import { createSite } from "./http/site.ts";
import { configureLogging } from "./logging.ts";
import { type Publisher, runScan, type ScanReport } from "./pipeline.ts";
import { startSchedule } from "./schedule.ts";
import { fileLine, removalMessage, skippedMessage } from "./source/problems.ts";
import { openStores } from "./stores.ts";
import { absolute, paths } from "./urls.ts";

const logger = getLogger(["herald"]);

/** How often relays that have not accepted yet are asked again. */
const RELAY_RETRY_MS = 60 * 60 * 1000;

async function main(): Promise<void> {
  const config = configOrExit({ checkFolders: true });
  await configureLogging(config.logLevel, config.logFormat);
  limitOutgoingRequests(config);
  const stores = await openStores(config, { queue: { workers: config.deliveryWorkers } });
  const { store, backends, kv, followers, interactions, deliveries } = stores;
  const queue = backends.queue;
  const keys = await loadOrCreateKeys(config.keysDir, kv).catch((error: unknown) => {
    if (!(error instanceof MissingKeysError)) throw error;
    logger.fatal("{message}", { message: error.message });
    process.exit(2);
  });

  const handle = `@${config.accountUsername}@${config.publicUrl.host}`;
  const movedTo = await readMovedTo(kv);
  const { images: accountImages, federation: federationOptions } = await accountOptions(config);
  const federation = buildFederation(federationOptions, {
    store,
    kv,
    queue: deliveries.queue,
    keys,
    followers,
    interactions,
    onDeliveryError: deliveries.failed,
  });
  const actor = federation.createContext(config.publicUrl).getActorUri(config.accountUsername);
  const icon = config.siteIcon === undefined ? undefined : await readIcon(config.siteIcon);
  const site = createSite(store, {
    page: {
      origin: config.publicUrl,
      title: config.siteTitle,
      description: config.siteDescription,
      language: config.siteLanguage,
      languageFromArticles: config.languageFromArticles,
      timeZone: config.timeZone,
      handle,
      actor,
      ...(movedTo ? { movedTo } : {}),
    },
    feed: {
      origin: config.publicUrl,
      title: config.siteTitle,
      author: config.siteAuthor,
      ...(config.websubHub ? { hub: config.websubHub } : {}),
    },
    limit: config.feedLimit,
    interactions,
    ...(icon ? { icon } : {}),
  });
  // In this order: the site first, so a post never links to a page that is not there yet.
  const publishers: Publisher[] = [
    site.publisher,
    {
      name: "federation",
      publish: createFederationPublisher(
        federation,
        {
          firstScan: () => store.firstScan(),
          relays: () => relayRecipients({ kv, followers }, config.relays),
          unreachable: () => unreachableOrigins(kv),
        },
        federationOptions,
      ),
    },
  ];
  for (const publisher of publishers) await store.subscribe(publisher.name);

  const ready = async () => {
    await store.countPublished();
    await queue.getDepth();
  };
  const serves = config.role !== "worker";
  const delivers = config.role !== "web";
  const app = serves
    ? createApp({
        site,
        federation: federationMiddleware(
          { federation, store },
          { ...federationOptions, inboxRateLimit: config.inboxRateLimit },
        ),
        articlesDir: config.articlesDir,
        resizer: createImageResizer(join(config.dataDir, "media")),
        accountImages: Object.fromEntries(
          Object.values(accountImages).map(({ name, file }) => [name, file]),
        ),
        ready,
        trustProxy: config.trustProxy,
      })
    : createHealthApp(ready);
  const server = await listen(app, config.port);
  const stopQueue = new AbortController();
  if (delivers) await reuseImportedPrivateKeys([keys.rsa.privateKey, keys.ed25519.privateKey]);
  const delivering = delivers
    ? federation.startQueue(undefined, { signal: stopQueue.signal })
    : Promise.resolve();
  printStartup(config, handle, backends.describe);
  if (movedTo) {
    logger.warn("This account has moved to {target}: followers were asked to follow it there.", {
      target: movedTo.href,
    });
  }
  const aliases = federationOptions.profile?.aliases ?? [];
  if (aliases.length > 0) {
    logger.info("Also known as: {aliases}", { aliases: aliases.map((a) => a.href).join(", ") });
  }
  if (serves) {
    // Once per change of the actor document, by the processes that scan (not the workers).
    const ctx = federation.createContext(config.publicUrl);
    const announced = await announceProfileChange(
      ctx,
      kv,
      config.accountUsername,
      await accountActor(ctx, federationOptions, { kv, keys }),
    );
    if (announced === "sent") logger.info("Profile changed: queued an Update for followers.");
  }
  for (const relay of await describeRelays(kv, config.relays)) {
    logger.info("Relay:       {url}: {state}", { url: relay.url.href, state: relay.text });
  }
  // Subscribing waits for each relay's actor document: in the background, where deliveries run;
  // again every hour, for a relay that could not be reached or has not answered yet.
  const syncAllRelays = () =>
    syncRelays(
      federation.createContext(config.publicUrl),
      { kv, followers, identifier: config.accountUsername, signal: stopQueue.signal },
      config.relays,
    ).catch((error: unknown) => logger.error("Relay subscriptions failed: {error}", { error }));
  let relaysSynced = delivers ? syncAllRelays() : Promise.resolve();
  const relayTimer =
    delivers && config.relays.length > 0
      ? setInterval(() => {
          relaysSynced = relaysSynced.then(syncAllRelays);
        }, RELAY_RETRY_MS)
      : undefined;
  relayTimer?.unref();

  const scan = async () => {
    logScan(
      await runScan({
        articlesDir: config.articlesDir,
        parseOptions: { defaultLanguage: config.siteLanguage },
        store,
        publishers,
      }),
    );
  };
  // Workers only deliver; the scan (and its schedule) belongs to the web processes.
  const schedule = serves ? startSchedule(config.scanSchedule, scan) : undefined;
  await schedule?.runNow();
  logger.info("Published: {count} articles. Followers: {followers}. Role: {role}.", {
    count: await store.countPublished(),
    followers: await followers.count(),
    role: config.role,
  });
  if (schedule) logger.info("Scanning on schedule {schedule}.", { schedule: config.scanSchedule });

  const shutdown = async (signal: string) => {
    logger.info("Received {signal}; shutting down.", { signal });
    const force = setTimeout(() => {
      logger.error("Shutdown took more than 10 s; exiting anyway.");
      process.exit(1);
    }, 10_000);
    force.unref();
    await schedule?.stop();
    server.closeIdleConnections();
    await new Promise((resolve) => server.close(resolve));
    clearInterval(relayTimer);
    stopQueue.abort();
    await relaysSynced;
    await delivering;
    await stores.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

function logScan(report: ScanReport): void {
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
  // A first import of thousands of files gets a summary, not a line per article.
  if (report.changes.length <= 20) {
    for (const { type, article } of report.changes) {
      logger.info("Article {type}: {title} ({language}, {path})", {
        type,
        title: article.title,
        language: article.language,
        path: paths.article(article.slug),
      });
    }
  }
  if (report.read > 0 || report.changes.length > 0) {
    const count = (type: string) => report.changes.filter((c) => c.type === type).length;
    logger.info(
      "Scanned {files} files ({read} read) in {ms} ms: {created} created, {updated} updated, {deleted} deleted.",
      {
        files: report.files,
        read: report.read,
        ms: Math.round(report.durationMs),
        created: count("created"),
        updated: count("updated"),
        deleted: count("deleted"),
      },
    );
  }
}

function listen(app: ReturnType<typeof createApp>, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, (error?: Error) => (error ? reject(error) : resolve(server)));
  });
}

function printStartup(config: Config, handle: string, federationBackends: string): void {
  const url = (path: string) => absolute(config.publicUrl, path).href;
  logger.info("Herald is listening on port {port}.", { port: config.port });
  logger.info("Home page:   {url}", { url: url(paths.home) });
  logger.info("RSS 2.0:     {url}", { url: url(paths.rss) });
  logger.info("Atom 1.0:    {url}", { url: url(paths.atom) });
  logger.info("JSON Feed:   {url}", { url: url(paths.json) });
  logger.info("Fediverse:   {handle} (search for it in Mastodon to follow)", { handle });
  logger.info("Articles:    {dir}", { dir: config.articlesDir });
  logger.info("Articles in: {backend}", {
    backend: config.databaseUrl
      ? `PostgreSQL at ${config.databaseUrl.host}`
      : `SQLite in ${config.dataDir}`,
  });
  logger.info("Federation:  {backends}", { backends: federationBackends });
}

await main();
