import type { Config } from "../config.ts";
import type { Account } from "../federation/account.ts";
import { readIcon } from "./favicon.ts";
import { createImageMeasure } from "./images.ts";
import type { SiteOptions } from "./site.ts";

/** The site as the configuration describes it, linking to the account. */
export async function siteOptions(config: Config, account: Account): Promise<SiteOptions> {
  const icon = config.siteIcon === undefined ? undefined : await readIcon(config.siteIcon);
  return {
    page: {
      origin: config.publicUrl,
      title: config.siteTitle,
      description: config.siteDescription,
      language: config.siteLanguage,
      languageFromArticles: config.languageFromArticles,
      timeZone: config.timeZone,
      measureImage: createImageMeasure(config.articlesDir),
      handle: account.handle,
      actor: account.actor,
      ...(account.movedTo ? { movedTo: account.movedTo } : {}),
      sections: config.sections.map(({ id, name }) => ({ id, name })),
    },
    feed: {
      origin: config.publicUrl,
      title: config.siteTitle,
      author: config.siteAuthor,
      ...(config.websubHub ? { hub: config.websubHub } : {}),
    },
    limit: config.feedLimit,
    sections: [...account.sections.values()].map(({ section }) => ({
      ...section,
      handle: `@${section.id}@${config.publicUrl.host}`,
      actor: account.federation.createContext(config.publicUrl).getActorUri(section.id),
    })),
    interactions: account.interactions,
    ...(icon ? { icon } : {}),
  };
}
