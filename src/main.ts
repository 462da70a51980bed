/**
 * The composition root, in the order of docs/ARCHITECTURE.md: configuration → backends →
 * account → site → HTTP + schedule → listen. Everything else is a factory; only this file
 * starts things.
 */
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { openBackends } from "./backends/open.ts";
import { configOrExit } from "./env.ts";
import { announceProfile, openAccount } from "./federation/account.ts";
import { limitOutgoingRequests } from "./federation/delivery/outgoing.ts";
import { startDelivery } from "./federation/delivery/worker.ts";
import { MissingKeysError } from "./federation/keys.ts";
import { createApp, createHealthApp, listen } from "./http/app.ts";
import { federationMiddleware } from "./http/federation/mount.ts";
import { createImageResizer } from "./http/media.ts";
import { createSite } from "./http/site.ts";
import { siteOptions } from "./http/site-options.ts";
import { configureLogging } from "./logging.ts";
import { type Publisher, runScan } from "./pipeline.ts";
import { startSchedule } from "./schedule.ts";
import { onShutdown } from "./shutdown.ts";
import { logRelays, logScan, logStartup } from "./startup-log.ts";

const logger = getLogger(["herald"]);

async function main(): Promise<void> {
  const config = configOrExit({ checkFolders: true });
  await configureLogging(config.logLevel, config.logFormat);
  limitOutgoingRequests(config);
  const backends = await openBackends(config, { queue: { workers: config.deliveryWorkers } });
  const { articles, kv } = backends;
  const account = await openAccount(config, backends).catch(exitOnMissingKeys);
  const site = createSite(articles, await siteOptions(config, account));
  // In this order: the site first, so a post never links to a page that is not there yet.
  const publishers: Publisher[] = [site.publisher, account.publisher];
  for (const publisher of publishers) await articles.subscribe(publisher.name);

  const ready = async () => {
    await articles.countPublished();
    await backends.queue.getDepth();
  };
  // Workers only deliver; the scan (and its schedule) belongs to the web processes.
  const serves = config.role !== "worker";
  const app = serves
    ? createApp({
        site,
        federation: federationMiddleware(
          { federation: account.federation, store: articles },
          { ...account.options, inboxRateLimit: config.inboxRateLimit },
        ),
        articlesDir: config.articlesDir,
        resizer: createImageResizer(join(config.dataDir, "media")),
        accountImages: Object.fromEntries(
          Object.values(account.images).map(({ name, file }) => [name, file]),
        ),
        ready,
        trustProxy: config.trustProxy,
      })
    : createHealthApp(ready);
  const server = await listen(app, config.port);
  logStartup(config, account, backends.describe);
  if (serves) await announceProfile(account, config, kv);
  await logRelays(config, backends);
  const delivery =
    config.role !== "web" ? await startDelivery(config, account, backends) : undefined;

  const scan = async () => {
    const parseOptions = { defaultLanguage: config.siteLanguage };
    logScan(
      await runScan({ articlesDir: config.articlesDir, parseOptions, store: articles, publishers }),
    );
  };
  const schedule = serves ? startSchedule(config.scanSchedule, scan) : undefined;
  await schedule?.runNow();
  logger.info("Published: {count} articles. Followers: {followers}. Role: {role}.", {
    count: await articles.countPublished(),
    followers: await backends.followers.count(),
    role: config.role,
  });
  if (schedule) logger.info("Scanning on schedule {schedule}.", { schedule: config.scanSchedule });

  onShutdown(async () => {
    await schedule?.stop();
    server.closeIdleConnections();
    await new Promise((resolve) => server.close(resolve));
    await delivery?.stop();
    await backends.close();
  });
}

function exitOnMissingKeys(error: unknown): never {
  if (!(error instanceof MissingKeysError)) throw error;
  logger.fatal("{message}", { message: error.message });
  process.exit(2);
}

await main();
