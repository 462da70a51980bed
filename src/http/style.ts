/** Where pages link the stylesheet unless `PageSite.stylesheet` says otherwise. */
export const stylesheetPath = "/style.css";

/** The only styles of the pages (none inline, so a strict CSP can forbid inline styles). */
export const stylesheet = `:root {
  color-scheme: light dark;
  --text: #1b1b1b;
  --muted: #5a5a5a;
  --background: #fdfdfb;
  --surface: #f1f0ec;
  --link: #0b57a4;
  --visited: #6a3d99;
  --accent: #b3261e;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  line-height: 1.6;
  -webkit-text-size-adjust: 100%;
  text-size-adjust: 100%;
}
@media (prefers-color-scheme: dark) {
  :root {
    --text: #e8e6e3;
    --muted: #a9a59f;
    --background: #161616;
    --surface: #242424;
    --link: #8ab4f8;
    --visited: #c58af9;
    --accent: #f28b82;
  }
}
*, *::before, *::after { box-sizing: border-box; }
body {
  margin: 0 auto;
  padding: 0 1rem 2rem;
  max-width: 42rem;
  color: var(--text);
  background: var(--background);
  overflow-wrap: break-word;
}
a { color: var(--link); text-underline-offset: 0.15em; }
a:visited { color: var(--visited); }
a:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
h1, h2, h3 { line-height: 1.25; }
h1 { font-size: clamp(1.6rem, 5vw, 2.2rem); margin: 1.5rem 0 0.5rem; }
h3, .card h2 { font-size: 1.2rem; margin: 0 0 0.25rem; }
img, video { max-width: 100%; height: auto; }
pre { overflow-x: auto; padding: 0.75rem; background: var(--surface); }
/* A wide table (a budget, election results) scrolls sideways in its own focusable region
   (\`scrollableTables()\` in images.ts): the page does not, and no figure breaks mid-number. */
.table-scroll { overflow-x: auto; margin: 1rem 0; }
.table-scroll:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
table { width: 100%; border-collapse: collapse; font-size: 0.95rem; font-variant-numeric: tabular-nums; }
th, td {
  padding: 0.25rem 0.5rem 0.25rem 0; text-align: left; vertical-align: top;
  border-bottom: 1px solid var(--surface);
}
/* Captions (\`figures.ts\`): smaller and muted under the picture; the credit on its own terms. */
figure { margin: 1.5rem 0; }
figcaption { margin-top: 0.4rem; color: var(--muted); font-size: 0.9rem; line-height: 1.4; }
figcaption .credit { display: block; font-size: 0.8rem; letter-spacing: 0.02em; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.95em; }
blockquote { margin: 1rem 0; padding-left: 1rem; border-left: 4px solid var(--surface); color: var(--muted); }
.skip-link { position: absolute; left: -999px; top: 0.5rem; background: var(--background); padding: 0.5rem; }
.skip-link:focus { left: 0.5rem; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.site-header { padding: 1rem 0 0.5rem; border-bottom: 1px solid var(--surface); }
.site-title { margin: 0; font-weight: 700; }
.site-title a { color: var(--text); text-decoration: none; }
.site-footer { margin-top: 3rem; padding-top: 1rem; border-top: 1px solid var(--surface); color: var(--muted); font-size: 0.9rem; }
.lede { font-size: 1.1rem; color: var(--muted); }
.follow { margin: 1.5rem 0; padding: 0.25rem 1rem; background: var(--surface); border-radius: 0.5rem; }
.follow-form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 1rem 0; }
.follow-form label { flex-basis: 100%; font-weight: 600; }
.follow-form input { flex: 1 1 14rem; font: inherit; padding: 0.4rem 0.5rem; }
.follow-form button { font: inherit; padding: 0.4rem 0.8rem; }
.follow-form .hint { flex-basis: 100%; margin: 0; color: var(--muted); font-size: 0.9rem; }
.handle { font-weight: 600; user-select: all; }
.meta { color: var(--muted); font-size: 0.9rem; margin: 0 0 0.5rem; }
.pinned { color: var(--accent); font-weight: 600; }
.articles { list-style: none; padding: 0; margin: 0; }
.articles > li { padding: 1rem 0; border-bottom: 1px solid var(--surface); }
.articles > li:last-child { border-bottom: 0; }
.card { display: flow-root; }
.card p { margin: 0.25rem 0; }
/* The card image beside the summary; \`THUMB_SIZES\` in images.ts says this width. */
.card .thumb { float: right; width: 7rem; margin: 0.25rem 0 0.5rem 1rem; border-radius: 0.25rem; }
.lead-image { margin: 1rem 0; }
.content { font-size: 1.05rem; }
.corrections { margin: 1.5rem 0; padding: 0.25rem 1rem; border-left: 0.25rem solid var(--accent); background: var(--surface); }
.corrections p { margin: 0.5rem 0; }
/* Long compounds ("Dreieckskooperation") break at syllables in the text's own language:
   every article's text carries its \`lang\` (the page's, or the card's). */
.content, .card, .article h1 { -webkit-hyphens: auto; hyphens: auto; }
.tags { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5rem; }
.tags a { display: inline-block; padding: 0.1rem 0.6rem; background: var(--surface); border-radius: 1rem; text-decoration: none; }
.interactions { margin: 2rem 0 0; padding-top: 1rem; border-top: 1px solid var(--surface); }
.replies { list-style: none; padding: 0; margin: 0; }
.reply { padding: 0.75rem 0; border-bottom: 1px solid var(--surface); overflow-wrap: anywhere; }
.reply .handle { font-weight: normal; color: var(--muted); }
.reply-content p { margin: 0.25rem 0; }
.reply-how { color: var(--muted); font-size: 0.9rem; }
`;
