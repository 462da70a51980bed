/**
 * A section's page (`SECTIONS`, issue #18.3): its latest stories, a follow box for its own
 * account, and its feeds, advertised with autodiscovery; and the section's feeds themselves.
 */
import type { Article } from "../article.ts";
import { sectionsFor } from "../config-sections.ts";
import type { FeedSite } from "../feeds/render.ts";
import { labelsFor } from "../labels.ts";
import { sectionStories } from "../section-stories.ts";
import type { ArticleStore } from "../store/store.ts";
import { absolute, paths } from "../urls.ts";
import { html, langAttr } from "./html.ts";
import {
  articleList,
  type FeedPaths,
  feedAlternates,
  feedList,
  followForm,
  type PageSite,
  page,
} from "./pages.ts";

/** What the site shows of a section. */
export interface SectionView {
  readonly id: string;
  /** The display name: `Politik`. */
  readonly name: string;
  readonly tags: readonly string[];
  /** `@politik@news.example`. */
  readonly handle: string;
  readonly actor: URL;
}

export function sectionFeeds(id: string): FeedPaths {
  return { rss: paths.sectionRss(id), atom: paths.sectionAtom(id), json: paths.sectionJson(id) };
}

export function renderSectionPage(
  site: PageSite,
  section: SectionView,
  articles: readonly Article[],
): string {
  const labels = labelsFor(site.language);
  const feeds = sectionFeeds(section.id);
  const url = absolute(site.origin, paths.section(section.id));
  const tags = section.tags.map(
    (tag) => html`<a href="${absolute(site.origin, paths.tag(tag)).href}" rel="tag">#${tag}</a>`,
  );
  return page(site, labels, {
    lang: site.language,
    title: `${section.name} – ${site.title}`,
    head: html`<link rel="canonical" href="${url.href}">
${feedAlternates(site, feeds, `${site.title}: ${section.name}`)}<link rel="alternate" type="application/activity+json" href="${section.actor.href}">
`,
    main: html`<h1>${section.name}</h1>
<p class="lede">${tags.map((tag, i) => (i === 0 ? tag : html` · ${tag}`))}</p>
<section class="follow" aria-labelledby="follow"${langAttr(labels.lang, site.language)}>
<h2 id="follow">${labels.follow}</h2>
<p>${labels.followHow(html`<code class="handle">${section.handle}</code>`)}</p>
${followForm(labels, section.id)}<p>${labels.feedsHow} ${feedList(site, feeds)}</p>
</section>
<section aria-labelledby="latest">
<h2 id="latest"${langAttr(labels.lang, site.language)}>${labels.latest}</h2>
${articleList(site, labels, articles, site.language)}
</section>`,
  });
}

/** The section's feeds: its stories under the site's name and the section's. */
export function sectionFeedSite(home: FeedSite, section: SectionView): FeedSite {
  return {
    ...home,
    tag: section.name,
    homePath: paths.section(section.id),
    feedPaths: sectionFeeds(section.id),
  };
}

/** The section's latest stories, and when they last changed (undefined: never any). */
export async function sectionArticles(
  store: Pick<ArticleStore, "listPublished" | "lastChange">,
  section: SectionView,
  limit: number,
): Promise<{ articles: Article[]; changed: Date | undefined }> {
  let changed: Date | undefined;
  for (const tag of section.tags) {
    const at = await store.lastChange(tag);
    if (at !== undefined && (changed === undefined || at > changed)) changed = at;
  }
  return { articles: await sectionStories(store, section.tags, limit), changed };
}

/** The feeds of the sections whose stories carry any of `tags` (for WebSub pings). */
export function changedSectionFeeds(
  sections: readonly SectionView[],
  tags: readonly string[],
): string[] {
  return sectionsFor(sections, tags).flatMap((section) => Object.values(sectionFeeds(section.id)));
}
