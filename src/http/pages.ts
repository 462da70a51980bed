import type { Article } from "../article.ts";
import { correctionNotesHtml } from "../correction-notes.ts";
import { type Labels, labelsFor } from "../labels.ts";
import { articleLinks } from "../links.ts";
import { absolute, paths } from "../urls.ts";
import { defaultIcon } from "./favicon.ts";
import { type Html, html, langAttr, layout, raw } from "./html.ts";
import {
  imageElement,
  leadImage,
  type MeasureImage,
  responsiveContent,
  scrollableTables,
  THUMB_SIZES,
} from "./images.ts";
import { type InteractionsView, interactionsSection } from "./interactions-section.ts";
import { articleJsonLd } from "./json-ld.ts";
import { stylesheetPath } from "./style.ts";

export { type InteractionsView, REPLIES_PER_PAGE } from "./interactions-section.ts";

/** What every page shows of the site. */
export interface PageSite {
  /** `PUBLIC_URL`. */
  readonly origin: URL;
  readonly title: string;
  /** The home page's tagline; unset, one in the site's language. */
  readonly description?: string | undefined;
  /** BCP 47 tag of the site; picks the language of the page frame, too. */
  readonly language: string;
  /**
   * `SITE_LANGUAGE` is unset: the site speaks the predominant language of its articles
   * (`createSite()` finds it; `language` while there are none).
   */
  readonly languageFromArticles?: boolean;
  /** The fediverse account, `@news@news.test` (the leading `@` is optional). */
  readonly handle: string;
  /**
   * The actor id. Linked from the home page as `application/activity+json`, so pasting the
   * site's address into Mastodon's search finds the account as well.
   */
  readonly actor?: URL;
  /** Default `/style.css`; a versioned path (`/style.css?v=…`) lets it be cached for long. */
  readonly stylesheet?: string;
  /** IANA time zone of displayed dates; default `UTC`. `<time datetime>` is always UTC. */
  readonly timeZone?: string;
  /** Where the account moved (`npm run move`): the home page sends new followers there. */
  readonly movedTo?: URL;
  /** The site's icon (`favicon.ts`); default the built-in SVG. */
  readonly icon?: { readonly path: string; readonly contentType: string };
  /** The sections (`SECTIONS`): the home page links to their pages. */
  readonly sections?: readonly { readonly id: string; readonly name: string }[];
  /** The size of an image beside the articles (`images.ts`): pages without it have no `srcset`. */
  readonly measureImage?: MeasureImage;
}

export interface FeedPaths {
  readonly rss: string;
  readonly atom: string;
  readonly json: string;
}

const homeFeeds: FeedPaths = { rss: paths.rss, atom: paths.atom, json: paths.json };

function tagFeeds(tag: string): FeedPaths {
  return { rss: paths.tagRss(tag), atom: paths.tagAtom(tag), json: paths.tagJson(tag) };
}

export function renderHomePage(site: PageSite, articles: readonly Article[]): string {
  const labels = labelsFor(site.language);
  const home = absolute(site.origin, paths.home);
  const pinnedFirst = [...articles.filter((a) => a.pinned), ...articles.filter((a) => !a.pinned)];
  const description = site.description ?? labels.tagline;
  return page(site, labels, {
    lang: site.language,
    title: site.title,
    description,
    head: html`<link rel="canonical" href="${home.href}">
${feedAlternates(site, homeFeeds, site.title)}${
  site.actor === undefined
    ? ""
    : html`<link rel="alternate" type="application/activity+json" href="${site.actor.href}">\n`
}<meta property="og:type" content="website">
<meta property="og:title" content="${site.title}">
<meta property="og:description" content="${description}">
<meta property="og:url" content="${home.href}">
`,
    main: html`<h1>${site.title}</h1>
<p class="lede">${description}</p>
<section class="follow" aria-labelledby="follow"${langAttr(labels.lang, site.language)}>
<h2 id="follow">${labels.follow}</h2>
${
  site.movedTo === undefined
    ? html`<p>${labels.followHow(html`<code class="handle">${handle(site)}</code>`)}</p>
${site.actor === undefined ? "" : html`${followForm(labels)}<p>${labels.followSite(html`<code>${home.href}</code>`)}</p>\n`}`
    : html`<p class="moved">${labels.moved(html`<a href="${site.movedTo.href}">${site.movedTo.href}</a>`)}</p>\n`
}<p>${labels.feedsHow} ${feedList(site, homeFeeds)}</p>
${sectionLinks(site, labels)}</section>
<section aria-labelledby="latest">
<h2 id="latest"${langAttr(labels.lang, site.language)}>${labels.latest}</h2>
${articleList(site, labels, pinnedFirst, site.language)}
</section>`,
  });
}

/** Links to the section pages, if there are sections. */
function sectionLinks(site: PageSite, labels: Labels): Html | "" {
  const sections = site.sections ?? [];
  if (sections.length === 0) return "";
  const links = sections.map(
    (s, i) =>
      html`${i === 0 ? "" : " · "}<a href="${absolute(site.origin, paths.section(s.id)).href}">${s.name}</a>`,
  );
  return html`<p>${labels.sectionsHow} ${links}</p>\n`;
}

export function renderTagPage(site: PageSite, tag: string, articles: readonly Article[]): string {
  const labels = labelsFor(site.language);
  const feeds = tagFeeds(tag);
  const heading = labels.tagHeading(tag);
  return page(site, labels, {
    lang: site.language,
    title: `${heading} – ${site.title}`,
    head: html`<link rel="canonical" href="${absolute(site.origin, paths.tag(tag)).href}">
${feedAlternates(site, feeds, `${site.title}: ${tag}`)}`,
    main: html`<h1>${heading}</h1>
<p${langAttr(labels.lang, site.language)}>${labels.tagFeeds} ${feedList(site, feeds)}</p>
${articleList(site, labels, articles, site.language, 2)}`,
  });
}

export function renderArticlePage(
  site: PageSite,
  article: Article,
  interactions?: InteractionsView,
): string {
  const labels = labelsFor(site.language);
  const links = articleLinks(article, site.origin);
  const frame = langAttr(labels.lang, article.language);
  const image =
    article.image === undefined ? "" : leadImage(article.image, site.origin, site.measureImage);
  const content = scrollableTables(
    responsiveContent(article.contentHtml, site.origin, site.measureImage),
    labels.table,
  );
  return page(site, labels, {
    lang: article.language,
    title: `${article.title} – ${site.title}`,
    description: article.summary,
    head: html`<link rel="canonical" href="${links.url.href}">
${(interactions?.page ?? 1) > 1 ? html`<meta name="robots" content="noindex">\n` : ""}<link rel="alternate" type="application/activity+json" href="${links.id.href}">
${feedAlternates(site, homeFeeds, site.title)}${article.authorFediverse === undefined ? "" : html`<meta name="fediverse:creator" content="${article.authorFediverse}">\n`}<meta name="fediverse:creator" content="${handle(site)}">
<meta property="og:type" content="article">
<meta property="og:title" content="${article.title}">
<meta property="og:description" content="${article.summary}">
<meta property="og:url" content="${links.url.href}">
<meta property="og:site_name" content="${site.title}">
${
  links.image === undefined
    ? html`<meta name="twitter:card" content="summary">\n`
    : html`<meta property="og:image" content="${links.image.href}">
${links.imageAlt === undefined ? "" : html`<meta property="og:image:alt" content="${links.imageAlt}">\n`}<meta name="twitter:card" content="summary_large_image">
`
}<meta property="article:published_time" content="${article.published.toISOString()}">
<meta property="article:modified_time" content="${article.updated.toISOString()}">
${article.tags.map((tag) => html`<meta property="article:tag" content="${tag}">\n`)}${articleJsonLd(site, article)}`,
    main: html`<article class="article">
<header>
<h1>${article.title}</h1>
<p class="meta"${frame}>${dateLine(site, labels, article)}</p>
</header>
${image}<div class="content">
${raw(content)}
</div>
${raw(correctionNotesHtml(article, site.timeZone ?? "UTC"))}
${
  article.tags.length === 0
    ? ""
    : html`<footer>
<nav aria-labelledby="tags"${frame}><h2 id="tags" class="visually-hidden">${labels.tags}</h2>
<ul class="tags">${article.tags.map(
        (tag) =>
          html`<li><a href="${absolute(site.origin, paths.tag(tag)).href}" rel="tag">#${tag}</a></li>`,
      )}</ul>
</nav>
</footer>
`
}</article>
${
  interactions === undefined
    ? ""
    : interactionsSection(site.language, labels, links.url, interactions, (date) =>
        time(site, labels, date),
      )
}`,
  });
}

/** For an article that was published and then deleted: serve with status 410. */
export function renderGonePage(site: PageSite): string {
  const labels = labelsFor(site.language);
  return messagePage(site, labels, labels.goneTitle, labels.goneText);
}

/** Serve with status 400: the follow box's form got something that is no server or handle. */
export function renderFollowRefusedPage(site: PageSite): string {
  const labels = labelsFor(site.language);
  return messagePage(site, labels, labels.followRefusedTitle, labels.followRefusedText);
}

/**
 * A plain GET form (no script: the CSP allows none) to `http/follow.ts`, which redirects the
 * reader to their own server's follow page.
 */
export function followForm(labels: Labels, section?: string): Html {
  return html`<form class="follow-form" method="get" action="${paths.follow}">
${section === undefined ? "" : html`<input type="hidden" name="section" value="${section}">\n`}<label for="follow-account">${labels.followFormLabel}</label>
<input id="follow-account" name="account" type="text" required maxlength="300" autocomplete="off" autocapitalize="none" spellcheck="false" aria-describedby="follow-example">
<button type="submit">${labels.followFormButton}</button>
<p id="follow-example" class="hint">${labels.followFormExample}</p>
</form>
`;
}

/** Serve with status 404. */
export function renderNotFoundPage(site: PageSite): string {
  const labels = labelsFor(site.language);
  return messagePage(site, labels, labels.notFoundTitle, labels.notFoundText);
}

function messagePage(site: PageSite, labels: Labels, title: string, text: string): string {
  return page(site, labels, {
    lang: labels.lang,
    title: `${title} – ${site.title}`,
    head: html`<meta name="robots" content="noindex">\n`,
    main: html`<h1>${title}</h1>
<p>${text}</p>
<p><a href="${absolute(site.origin, paths.home).href}">${labels.backHome}</a></p>`,
  });
}

export interface PageContent {
  readonly lang: string;
  readonly title: string;
  readonly description?: string;
  readonly head: Html;
  readonly main: Html;
}

export function page(site: PageSite, labels: Labels, content: PageContent): string {
  const home = absolute(site.origin, paths.home);
  return layout({
    ...content,
    stylesheet: site.stylesheet ?? stylesheetPath,
    icon: site.icon ?? defaultIcon,
    chromeLang: labels.lang,
    skipLabel: labels.skip,
    header: html`<p class="site-title"><a href="${home.href}" rel="home">${site.title}</a></p>`,
    footer: html`<p><code class="handle">${handle(site)}</code> · ${feedList(site, homeFeeds)}</p>`,
  });
}

export function handle(site: PageSite): string {
  return `@${site.handle.replace(/^@/, "")}`;
}

export function feedAlternates(site: PageSite, feeds: FeedPaths, title: string): Html {
  const alternate = (type: string, path: string, format: string) =>
    html`<link rel="alternate" type="${type}" title="${title} (${format})" href="${absolute(site.origin, path).href}">\n`;
  return html`${alternate("application/rss+xml", feeds.rss, "RSS")}${alternate("application/atom+xml", feeds.atom, "Atom")}${alternate("application/feed+json", feeds.json, "JSON Feed")}`;
}

export function feedList(site: PageSite, feeds: FeedPaths): Html {
  const link = (path: string, type: string, name: string) =>
    html`<a href="${absolute(site.origin, path).href}" type="${type}">${name}</a>`;
  return html`${link(feeds.rss, "application/rss+xml", "RSS")} · ${link(feeds.atom, "application/atom+xml", "Atom")} · ${link(feeds.json, "application/feed+json", "JSON Feed")}`;
}

export function articleList(
  site: PageSite,
  labels: Labels,
  articles: readonly Article[],
  pageLang: string,
  // The level of each article's title: one below the heading the list stands under (WCAG 1.3.1).
  level: 2 | 3 = 3,
): Html {
  if (articles.length === 0) {
    return html`<p${langAttr(labels.lang, pageLang)}>${labels.nothingYet}</p>`;
  }
  const items = articles.map((article) => {
    const { url, image } = articleLinks(article, site.origin);
    const link = html`<a href="${url.href}">${article.title}</a>`;
    // The thumbnail repeats what the linked title says: empty alt text, so it is not read twice.
    const thumb =
      image === undefined
        ? ""
        : html`${imageElement(image, "", { origin: site.origin, sizes: THUMB_SIZES, measure: site.measureImage, lazy: true, className: "thumb" })}\n`;
    return html`<li><article class="card"${langAttr(article.language, pageLang)}>
${thumb}${level === 2 ? html`<h2>${link}</h2>` : html`<h3>${link}</h3>`}
<p class="meta"${langAttr(labels.lang, article.language)}>${article.pinned ? html`<span class="pinned">${labels.pinned}</span> · ` : ""}${time(site, labels, article.published)}</p>
<p>${article.summary}</p>
</article></li>
`;
  });
  return html`<ol class="articles">
${items}</ol>`;
}

/** An edit this soon after publication (a typo fixed) is not worth an "updated". */
const SILENT_EDIT_MS = 5 * 60_000;

function dateLine(site: PageSite, labels: Labels, article: Article): Html {
  const edited = article.updated.getTime() - article.published.getTime() > SILENT_EDIT_MS;
  return html`${labels.published} ${time(site, labels, article.published)}${
    edited ? html`, ${labels.updated} ${time(site, labels, article.updated)}` : ""
  }${article.author === undefined ? "" : html` ${labels.by} <span class="author">${article.author}</span>`}`;
}

function time(site: PageSite, labels: Labels, date: Date): Html {
  const text = formatDateTime(date, labels.lang, site.timeZone ?? "UTC");
  return html`<time datetime="${date.toISOString()}">${text}</time>`;
}

/**
 * A date with its time of day, as the locale writes them: "5. Dezember 2026, 14:30",
 * "December 5, 2026, 2:30 PM". Date and time are formatted apart and joined with a comma:
 * together, `Intl` joins them with a word ("um", "at") that reads oddly after "Published".
 */
export function formatDateTime(date: Date, locale: string, timeZone: string): string {
  const day = new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone }).format(date);
  const clock = new Intl.DateTimeFormat(locale, { timeStyle: "short", timeZone }).format(date);
  return `${day}, ${clock}`;
}
