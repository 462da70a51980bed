import express, { type Express } from "express";
import type { Config } from "../config.ts";
import type { ArticleStore } from "../store/store.ts";

export interface AppDeps {
  readonly config: Config;
  readonly store: ArticleStore;
}

/** The HTTP surface; nothing listens until main.ts says so. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    res.type("text/plain").send("ok\n");
  });
  app.get("/", async (_req, res) => {
    const articles = await deps.store.listPublished({ limit: deps.config.feedLimit });
    res.json(articles.map((a) => ({ title: a.title, slug: a.slug })));
  });
  return app;
}
