/**
 * The composition root, in the order of docs/ARCHITECTURE.md: configuration → backends →
 * account → site → HTTP + schedule → listen. Everything else is a factory; only this file
 * starts things.
 */
import { getLogger } from "@logtape/logtape";
import { openBackends } from "./backends/open.ts";
import { configOrExit } from "./env.ts";
import { announceProfile, openAccount } from "./federation/account.ts";
import { limitOutgoingRequests } from "./federation/delivery/outgoing.ts";
import { startDelivery } from "./federation/delivery/worker.ts";
import { MissingKeysError } from "./federation/keys.ts";
import { listen } from "./http/app.ts";
import { serviceApp } from "./http/service-app.ts";
import { createSite } from "./http/site.ts";
import { siteOptions } from "./http/site-options.ts";
import { configureLogging } from "./logging.ts";
import { type Publisher, runScan } from "./pipeline.ts";
import { startSchedule } from "./schedule.ts";
import { onShutdown } from "./shutdown.ts";
import { logRelays, logScan, logStartup } from "./startup-log.ts";
import { watchArticles } from "./watch.ts";

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
  // The sections boost the main account's posts: after it.
  const publishers: Publisher[] = [site.publisher, account.publisher, account.sectionsPublisher];
  for (const publisher of publishers) await articles.subscribe(publisher.name);

  // Workers only deliver; the scan (and its schedule) belongs to the web processes.
  const serves = config.role !== "worker";
  const server = await listen(serviceApp(config, site, account, backends), config.port).catch(
    (error: unknown) => exitOnPortRefused(error, config.port),
  );
  logStartup(config, account, backends.describe);
  if (serves) await announceProfile(account, config, kv);
  await logRelays(config, backends);
  const delivery =
    config.role !== "web" ? await startDelivery(config, account, backends) : undefined;

  // With paths (the watcher's): those files only; without (the schedule's): every file.
  const scan = async (paths?: readonly string[]) => {
    const parseOptions = { defaultLanguage: config.siteLanguage };
    const deps = { articlesDir: config.articlesDir, parseOptions, store: articles, publishers };
    logScan(await runScan(deps, paths));
  };
  const schedule = serves ? startSchedule(config.scanSchedule, scan) : undefined;
  // Watching starts before the first scan, so that nothing written during it waits for cron.
  const watch =
    schedule &&
    watchArticles(config.articlesDir, (paths) => void schedule.runAfterChange(paths), {
      enabled: config.watch,
    });
  await schedule?.runNow();
  logger.info("Published: {count} articles. Followers: {followers}. Role: {role}.", {
    count: await articles.countPublished(),
    followers: await backends.followers.count(),
    role: config.role,
  });
  if (schedule) logger.info("Scanning on schedule {schedule}.", { schedule: config.scanSchedule });

  onShutdown(async () => {
    watch?.close();
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

/** A port taken or not allowed: said in one line, with what to do, instead of a stack trace. */
function exitOnPortRefused(error: unknown, port: number): never {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === "EADDRINUSE") {
    logger.fatal(
      "Port {port} is already in use (another Herald, or another server): stop it, or set PORT to a free port.",
      { port },
    );
  } else if (code === "EACCES") {
    logger.fatal(
      "This user may not open port {port} (ports below 1024 need privileges): set PORT to 1024 or above, behind a proxy as the README shows.",
      { port },
    );
  } else {
    throw error;
  }
  process.exit(2);
}

await main();
