import type { Server } from "node:http";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import { type Config, ConfigError, checkFolders, loadConfig } from "./config.ts";
import { readEnvironment } from "./env.ts";
import { createApp } from "./http/app.ts";
import { configureLogging } from "./logging.ts";
import { type Publisher, runScan } from "./pipeline.ts";
import { startSchedule } from "./schedule.ts";
import { openPostgresArticleStore } from "./store/postgres.ts";
import { SqliteArticleStore } from "./store/sqlite.ts";
import type { ArticleStore } from "./store/store.ts";
import { paths } from "./urls.ts";

const logger = getLogger(["herald"]);

async function main(): Promise<void> {
  const config = readConfig();
  await configureLogging(config.logLevel);
  const store: ArticleStore = config.databaseUrl
    ? await openPostgresArticleStore(config.databaseUrl)
    : new SqliteArticleStore(new DatabaseSync(join(config.dataDir, "herald.sqlite")));
  const publishers: Publisher[] = [];
  for (const publisher of publishers) await store.subscribe(publisher.name);

  const app = createApp({ config, store });
  const server = await listen(app, config.port);
  printStartup(config);

  const scan = async () => {
    const report = await runScan({
      articlesDir: config.articlesDir,
      parseOptions: { defaultLanguage: config.siteLanguage },
      store,
      publishers,
    });
    for (const { path, reason, line } of report.skipped) {
      logger.warn("Skipped {path}: {reason}", { path: line ? `${path}:${line}` : path, reason });
    }
    for (const change of report.changes) {
      const { title, language, slug } = change.article;
      logger.info("Article {type}: {title} ({language}, /articles/{slug})", {
        type: change.type,
        title,
        language,
        slug,
      });
    }
    if (report.read > 0 || report.changes.length > 0) {
      logger.info("Scanned {files} files ({read} read) in {ms} ms: {changes} changes.", {
        files: report.files,
        read: report.read,
        ms: Math.round(report.durationMs),
        changes: report.changes.length,
      });
    }
  };
  const schedule = startSchedule(config.scanSchedule, scan);
  await schedule.runNow();
  logger.info("{count} articles published; scanning on schedule {schedule}.", {
    count: await store.countPublished(),
    schedule: config.scanSchedule,
  });

  const shutdown = async (signal: string) => {
    logger.info("Received {signal}; shutting down.", { signal });
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await schedule.stop();
    await new Promise((resolve) => server.close(resolve));
    await store.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

function readConfig(): Config {
  try {
    const config = loadConfig(readEnvironment(process.env));
    checkFolders(config);
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`Configuration error: ${problem}`);
    process.exit(2);
  }
}

function listen(app: ReturnType<typeof createApp>, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, (error?: Error) => (error ? reject(error) : resolve(server)));
  });
}

function printStartup(config: Config): void {
  const url = (path: string) => new URL(path, config.publicUrl).href;
  const handle = `@${config.accountUsername}@${config.publicUrl.host}`;
  logger.info("Herald is listening on port {port}.", { port: config.port });
  logger.info("Home page:   {url}", { url: url(paths.home) });
  logger.info("RSS 2.0:     {url}", { url: url(paths.rss) });
  logger.info("Atom 1.0:    {url}", { url: url(paths.atom) });
  logger.info("JSON Feed:   {url}", { url: url(paths.json) });
  logger.info("Fediverse:   {handle}", { handle });
  logger.info("Articles:    {dir}", { dir: config.articlesDir });
}

await main();
