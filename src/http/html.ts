/**
 * HTML building blocks: an auto-escaping `html` template tag and the page layout.
 * Pages are whole strings; no client JavaScript, no inline scripts or styles, so a strict
 * `Content-Security-Policy: default-src 'none'; style-src 'self'; img-src *` fits.
 */
import { escapeHtml } from "../escape.ts";

/** Markup that is already safe: `html` inserts it as it is. */
export class Html {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = Html | string | number | readonly HtmlValue[] | undefined | null | false;

/** Trusted markup, e.g. an article's sanitised `contentHtml`. */
export function raw(markup: string): Html {
  return new Html(markup);
}

/** Escapes every interpolated string; `Html` values and arrays of them go in unchanged. */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let out = strings[0] ?? "";
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? "");
  });
  return new Html(out);
}

function render(value: HtmlValue): string {
  if (value === undefined || value === null || value === false) return "";
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/** A `lang` attribute, only where it differs from the enclosing element's language. */
export function langAttr(lang: string, enclosing: string): Html {
  return lang.toLowerCase() === enclosing.toLowerCase() ? raw("") : html` lang="${lang}"`;
}

/** A page's `<head>` and frame; `main` holds its content. */
export interface Layout {
  readonly lang: string;
  /** The `<title>`. */
  readonly title: string;
  readonly description?: string;
  readonly stylesheet: string;
  readonly icon: { readonly path: string; readonly contentType: string };
  /** Extra `<head>` elements: canonical, alternates, meta. */
  readonly head?: Html;
  /** Language of the header and footer text when it differs from `lang`. */
  readonly chromeLang: string;
  readonly header: Html;
  readonly main: Html;
  readonly footer: Html;
  readonly skipLabel: string;
}

export function layout(page: Layout): string {
  const chrome = langAttr(page.chromeLang, page.lang);
  return html`<!doctype html>
<html lang="${page.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${page.title}</title>
${page.description === undefined ? "" : html`<meta name="description" content="${page.description}">\n`}<link rel="stylesheet" href="${page.stylesheet}">
<link rel="icon" href="${page.icon.path}" type="${page.icon.contentType}">
${page.head ?? ""}</head>
<body>
<a class="skip-link" href="#main"${chrome}>${page.skipLabel}</a>
<header class="site-header"${chrome}>
${page.header}
</header>
<main id="main">
${page.main}
</main>
<footer class="site-footer"${chrome}>
${page.footer}
</footer>
</body>
</html>
`.value;
}
