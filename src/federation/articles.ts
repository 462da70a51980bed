/**
 * The part of the article store the federation reads. The composition root hands in the
 * whole `ArticleStore`; tests hand in a small in-memory one.
 */
import type { ArticleStore } from "../store/store.ts";

export type PublishedArticles = Pick<
  ArticleStore,
  "listPublished" | "countPublished" | "findById" | "findBySlug"
>;
