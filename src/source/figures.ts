/**
 * Captions (issue #15.3): an image alone in its paragraph with a title,
 * `![Alt](photo.jpg "Caption | Photo: AP")`, becomes a figure with the title as its caption;
 * what follows a `|` is the credit.
 *
 * ```html
 * <figure><img src="photo.jpg" alt="Alt"><figcaption>Caption <small class="credit">Photo: AP</small></figcaption></figure>
 * ```
 */
import type { MarkdownIt, Token } from "markdown-it";

/** A Markdown image title split into caption and credit at its first `|`. */
export function captionOf(title: string): { caption?: string; credit?: string } {
  const bar = title.indexOf("|");
  const caption = (bar === -1 ? title : title.slice(0, bar)).trim();
  const credit = bar === -1 ? "" : title.slice(bar + 1).trim();
  return { ...(caption ? { caption } : {}), ...(credit ? { credit } : {}) };
}

/** Registers the rule and the renderer of figures with a markdown-it instance. */
export function figures(markdown: MarkdownIt): void {
  markdown.core.ruler.push("figures", (state) => {
    const { tokens } = state;
    for (let i = 0; i + 2 < tokens.length; i++) {
      const [open, inline, close] = [tokens[i], tokens[i + 1], tokens[i + 2]];
      if (open?.type !== "paragraph_open" || open.hidden || close?.type !== "paragraph_close") {
        continue;
      }
      const image = loneImage(inline);
      const title = image?.attrGet("title")?.toString();
      if (!image || !title) continue;
      const { caption, credit } = captionOf(title);
      if (caption === undefined && credit === undefined) continue;
      // The caption says it on the page; as a tooltip too, it would be read out twice.
      image.attrs = (image.attrs ?? []).filter(([name]) => name !== "title");
      image.meta = { ...image.meta, caption, credit };
      open.tag = "figure";
      close.tag = "figure";
    }
  });
  const renderImage = markdown.renderer.rules.image;
  markdown.renderer.rules.image = (tokens, index, options, env, self) => {
    const img = renderImage
      ? renderImage(tokens, index, options, env, self)
      : self.renderToken(tokens, index, options);
    const meta = tokens[index]?.meta as { caption?: string; credit?: string } | null | undefined;
    if (!meta || (meta.caption === undefined && meta.credit === undefined)) return img;
    const escapeText = markdown.utils.escapeHtml;
    const caption = meta.caption === undefined ? "" : escapeText(meta.caption);
    const credit =
      meta.credit === undefined ? "" : `<small class="credit">${escapeText(meta.credit)}</small>`;
    const space = caption && credit ? " " : "";
    return `${img}<figcaption>${caption}${space}${credit}</figcaption>`;
  };
}

/** The image an inline token holds and nothing else (but spaces), if it does. */
function loneImage(inline: Token | undefined): Token | undefined {
  if (inline?.type !== "inline") return undefined;
  const children = (inline.children ?? []).filter(
    (child) => !(child.type === "text" && child.content.trim() === ""),
  );
  const [only] = children;
  return children.length === 1 && only?.type === "image" ? only : undefined;
}
