import type { Article } from "./article.ts";
import { type Html, html } from "./http/html.ts";

/**
 * The words of the page frame (and of correction notices, wherever an article goes), in one language. To add a language, copy `en` below,
 * translate each entry, and add it to `languages` under its primary subtag (`fr`).
 */
export interface Labels {
  /** BCP 47 tag of these words; also the locale for dates. */
  readonly lang: string;
  /** The home page's tagline when `SITE_DESCRIPTION` is unset. */
  readonly tagline: string;
  readonly skip: string;
  readonly latest: string;
  readonly nothingYet: string;
  readonly follow: string;
  readonly followHow: (handle: Html) => Html;
  readonly followSite: (siteUrl: Html) => Html;
  /** The follow box's form (`http/follow.ts`): its field's label, an example, the button. */
  readonly followFormLabel: string;
  readonly followFormExample: string;
  readonly followFormButton: string;
  /** The answer to a form filled with something that is neither a server nor a handle. */
  readonly followRefusedTitle: string;
  readonly followRefusedText: string;
  /** The account moved (`npm run move`): follow the new one. */
  readonly moved: (account: Html) => Html;
  readonly feeds: string;
  readonly feedsHow: string;
  /** Before the links to the section pages (`SECTIONS`), each with its own account and feeds. */
  readonly sectionsHow: string;
  readonly published: string;
  readonly updated: string;
  readonly by: string;
  readonly tags: string;
  readonly pinned: string;
  readonly tagHeading: (tag: string) => string;
  readonly tagFeeds: string;
  readonly goneTitle: string;
  readonly goneText: string;
  readonly notFoundTitle: string;
  readonly notFoundText: string;
  readonly backHome: string;
  /** Heading of an article's replies, likes and boosts from the fediverse. */
  readonly interactions: string;
  readonly replies: (count: number) => string;
  readonly likes: (count: number) => string;
  readonly boosts: (count: number) => string;
  readonly quotes: (count: number) => string;
  readonly replyHow: string;
  readonly newerReplies: string;
  readonly olderReplies: string;
  /** Links a reply shown shortened to the whole of it, on its server. */
  readonly wholeReply: string;
  /** Names the region a table scrolls sideways in (`http/images.ts`, `scrollableTables()`). */
  readonly table: string;
  /** Names the corrections of an article (for assistive technology). */
  readonly corrections: string;
  /** Starts a correction notice; `date` as the locale writes it. */
  readonly correction: (date: string) => string;
}

const en: Labels = {
  lang: "en",
  tagline: "The latest news, on the web, in your feed reader and in the fediverse.",
  skip: "Skip to content",
  latest: "Latest articles",
  nothingYet: "Nothing has been published yet.",
  follow: "Follow",
  followHow: (handle) =>
    html`Follow ${handle} from Mastodon or any other fediverse server: copy the handle, paste it into your server’s search, open the account and choose <em>Follow</em>.`,
  followSite: (siteUrl) =>
    html`Pasting this site’s address, ${siteUrl}, into the search works too.`,
  moved: (account) =>
    html`This site’s fediverse account has moved to ${account}: follow it there from Mastodon or any other fediverse server.`,
  followFormLabel: "Your fediverse server or handle",
  followFormExample: "for example mastodon.social or @you@mastodon.social",
  followFormButton: "Follow from your server",
  followRefusedTitle: "That is not a fediverse address",
  followRefusedText:
    "Type the name of your server (mastodon.social) or your handle (@you@mastodon.social), nothing else, and try again.",
  feeds: "Feeds",
  feedsHow: "Or subscribe in a feed reader:",
  sectionsHow: "Only some topics? Each section has its own account and feeds:",
  published: "Published",
  updated: "updated",
  by: "by",
  tags: "Tags",
  pinned: "Pinned",
  tagHeading: (tag) => `Articles tagged “${tag}”`,
  tagFeeds: "Feeds for this tag:",
  goneTitle: "Article removed",
  goneText: "This article has been removed and is no longer available.",
  notFoundTitle: "Page not found",
  notFoundText: "There is nothing at this address.",
  backHome: "Go to the home page",
  interactions: "From the fediverse",
  replies: (n) => `${n} ${n === 1 ? "reply" : "replies"}`,
  likes: (n) => `${n} ${n === 1 ? "like" : "likes"}`,
  boosts: (n) => `${n} ${n === 1 ? "boost" : "boosts"}`,
  quotes: (n) => `${n} ${n === 1 ? "quote" : "quotes"}`,
  replyHow:
    "To reply, paste this page’s address into the search of your Mastodon or other fediverse server and answer the post.",
  newerReplies: "Newer replies",
  olderReplies: "Older replies",
  wholeReply: "Read the whole reply",
  table: "Table (scrolls sideways)",
  corrections: "Corrections",
  correction: (date) => `Correction, ${date}:`,
};

const de: Labels = {
  lang: "de",
  tagline: "Die neuesten Nachrichten – im Web, im Feedreader und im Fediverse.",
  skip: "Zum Inhalt springen",
  latest: "Neueste Artikel",
  nothingYet: "Noch ist nichts veröffentlicht.",
  follow: "Folgen",
  followHow: (handle) =>
    html`Folgen Sie ${handle} von Mastodon oder einem anderen Fediverse-Server aus: Kopieren Sie die Adresse, fügen Sie sie in die Suche Ihres Servers ein, öffnen Sie das Konto und wählen Sie <em>Folgen</em>.`,
  followSite: (siteUrl) =>
    html`Die Adresse dieser Website, ${siteUrl}, in die Suche einzufügen, funktioniert ebenfalls.`,
  moved: (account) =>
    html`Das Fediverse-Konto dieser Website ist umgezogen nach ${account}: Folgen Sie ihm dort, von Mastodon oder einem anderen Fediverse-Server aus.`,
  followFormLabel: "Ihr Fediverse-Server oder Ihre Adresse",
  followFormExample: "zum Beispiel mastodon.social oder @sie@mastodon.social",
  followFormButton: "Von Ihrem Server aus folgen",
  followRefusedTitle: "Das ist keine Fediverse-Adresse",
  followRefusedText:
    "Geben Sie den Namen Ihres Servers (mastodon.social) oder Ihre Adresse (@sie@mastodon.social) ein, nichts anderes, und versuchen Sie es erneut.",
  feeds: "Feeds",
  feedsHow: "Oder abonnieren Sie einen Feed:",
  sectionsHow: "Nur einzelne Themen? Jedes Ressort hat ein eigenes Konto und eigene Feeds:",
  published: "Veröffentlicht am",
  updated: "aktualisiert am",
  by: "von",
  tags: "Schlagwörter",
  pinned: "Angeheftet",
  tagHeading: (tag) => `Artikel zum Schlagwort „${tag}“`,
  tagFeeds: "Feeds zu diesem Schlagwort:",
  goneTitle: "Artikel entfernt",
  goneText: "Dieser Artikel wurde entfernt und ist nicht mehr verfügbar.",
  notFoundTitle: "Seite nicht gefunden",
  notFoundText: "Unter dieser Adresse gibt es nichts.",
  backHome: "Zur Startseite",
  interactions: "Aus dem Fediverse",
  replies: (n) => `${n} ${n === 1 ? "Antwort" : "Antworten"}`,
  likes: (n) => `${n} ${n === 1 ? "Favorit" : "Favoriten"}`,
  boosts: (n) => `${n} ${n === 1 ? "Boost" : "Boosts"}`,
  quotes: (n) => `${n} ${n === 1 ? "Zitat" : "Zitate"}`,
  replyHow:
    "Zum Antworten fügen Sie die Adresse dieser Seite in die Suche Ihres Mastodon- oder anderen Fediverse-Servers ein und antworten auf den Beitrag.",
  newerReplies: "Neuere Antworten",
  olderReplies: "Ältere Antworten",
  wholeReply: "Die ganze Antwort lesen",
  table: "Tabelle (seitlich verschiebbar)",
  corrections: "Korrekturen",
  correction: (date) => `Korrektur vom ${date}:`,
};

const languages: ReadonlyMap<string, Labels> = new Map([
  ["en", en],
  ["de", de],
]);

/** The labels for a site language (by its primary subtag); English when there are none. */
export function labelsFor(language: string): Labels {
  const primary = language.split("-")[0]?.toLowerCase() ?? "";
  return languages.get(primary) ?? en;
}

/**
 * The language most of `articles` are in (the newer one on a tie, `articles` being newest
 * first), or `undefined` when there are none: the site's language when `SITE_LANGUAGE` is unset.
 */
export function predominantLanguage(articles: readonly Article[]): string | undefined {
  const counts = new Map<string, number>();
  for (const { language } of articles) counts.set(language, (counts.get(language) ?? 0) + 1);
  let best: string | undefined;
  for (const [language, count] of counts) {
    if (best === undefined || count > (counts.get(best) ?? 0)) best = language;
  }
  return best;
}
