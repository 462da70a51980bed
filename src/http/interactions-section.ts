/**
 * The fediverse under an article: its counts of replies, likes and boosts, and one page of its
 * replies, newest first.
 */
import { unescapeHtml } from "../escape.ts";
import type { Interaction, InteractionCounts } from "../interactions.ts";
import type { Labels } from "../labels.ts";
import { cutAtWord, squash } from "../source/text.ts";
import { type Html, html, langAttr, raw } from "./html.ts";

/**
 * What an article page shows from the fediverse: the counts, and one page of replies, newest
 * first (page 1 at the article's URL, page n at `?replies=n`).
 */
export interface InteractionsView {
  readonly counts: InteractionCounts;
  readonly replies: readonly Interaction[];
  /** 1 = the newest replies. */
  readonly page: number;
  /** How many pages of replies there are (0 without replies). */
  readonly pages: number;
}

/** How many replies a page shows: the page's size is bounded, however many arrive. */
export const REPLIES_PER_PAGE = 50;

/**
 * A reply longer than this (sanitised HTML) is shown as the start of its text, with a link to
 * the whole reply: no reader wants a wall of text, and the page's size stays bounded.
 */
const MAX_SHOWN_REPLY_HTML = 2_000;
const SHORTENED_REPLY_CHARS = 500;

/** The replies, likes and boosts from the fediverse, under the article; nothing if none. */
export function interactionsSection(
  siteLanguage: string,
  labels: Labels,
  articleUrl: URL,
  view: InteractionsView,
  time: (date: Date) => Html,
): Html {
  const { counts, replies } = view;
  if (counts.replies + counts.likes + counts.boosts + counts.quotes === 0) return html``;
  const summary = [
    labels.replies(counts.replies),
    labels.likes(counts.likes),
    labels.boosts(counts.boosts),
    labels.quotes(counts.quotes),
  ].join(" · ");
  const items = replies.map((reply) => {
    const { actor } = reply;
    // Names and handles are the sender's text: <bdi> keeps a right-to-left override in them
    // from turning the rest of the line around.
    const name = actor.name ?? actor.handle ?? new URL(actor.id).host;
    const when = time(new Date(reply.published));
    return html`<li class="reply">
<p class="meta"><a href="${actor.url ?? actor.id}" rel="nofollow ugc noopener"><bdi>${name}</bdi></a>${
      actor.handle === undefined || actor.handle === name
        ? ""
        : html` <span class="handle"><bdi>${actor.handle}</bdi></span>`
    } · ${reply.url === undefined ? when : html`<a href="${reply.url}" rel="nofollow ugc noopener">${when}</a>`}</p>
<div class="reply-content">${replyContent(labels, reply)}</div>
</li>
`;
  });
  const pageUrl = (n: number) => {
    const url = new URL(articleUrl);
    if (n > 1) url.searchParams.set("replies", String(n));
    return url.href;
  };
  const nav =
    view.pages > 1
      ? html`<nav class="reply-pages"><p>${
          view.page > 1
            ? html`<a href="${pageUrl(view.page - 1)}" rel="prev">${labels.newerReplies}</a>`
            : ""
        }${view.page > 1 && view.page < view.pages ? " · " : ""}${
          view.page < view.pages
            ? html`<a href="${pageUrl(view.page + 1)}" rel="next">${labels.olderReplies}</a>`
            : ""
        }</p></nav>
`
      : "";
  return html`<section class="interactions" aria-labelledby="interactions"${langAttr(labels.lang, siteLanguage)}>
<h2 id="interactions">${labels.interactions}</h2>
<p class="counts">${summary}</p>
${
  replies.length === 0
    ? ""
    : html`<ol class="replies">
${items}</ol>
`
}${nav}<p class="reply-how">${labels.replyHow}</p>
</section>`;
}

/** The reply's sanitised HTML; a long one as the start of its text, linked to the whole. */
function replyContent(labels: Labels, reply: Interaction): Html {
  const content = reply.contentHtml ?? "";
  if (content.length <= MAX_SHOWN_REPLY_HTML) return raw(content);
  const text = squash(unescapeHtml(content.replace(/<[^>]*>/g, " ")));
  return html`<p>${cutAtWord(text, SHORTENED_REPLY_CHARS)}</p>${
    reply.url === undefined
      ? ""
      : html`<p><a href="${reply.url}" rel="nofollow ugc noopener">${labels.wholeReply}</a></p>`
  }`;
}
