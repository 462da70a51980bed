/**
 * What a Mastodon reader sees of a remote post's `summary` or `content` (HTML, per
 * ActivityStreams 2.0): Mastodon sanitises it to its allow-list (`Sanitize::Config::
 * MASTODON_STRICT` in `lib/sanitize_ext/sanitize_config.rb`), then the browser shows the text.
 * Written with parse5, not with Herald's own code, so that the check does not share its bugs.
 */
import { type DefaultTreeAdapterTypes, parseFragment } from "parse5";

type Node = DefaultTreeAdapterTypes.ChildNode;

/** Elements Mastodon keeps; any other element is unwrapped (its children stay). */
const allowed = new Set([
  "p",
  "br",
  "span",
  "a",
  "abbr",
  "del",
  "s",
  "pre",
  "blockquote",
  "code",
  "b",
  "strong",
  "u",
  "i",
  "em",
  "ul",
  "ol",
  "li",
  "ruby",
  "rt",
  "rp",
]);

/** Elements removed with their contents (the `sanitize` gem's default `remove_contents`). */
const removedWithContents = new Set([
  "iframe",
  "math",
  "noembed",
  "noframes",
  "noscript",
  "plaintext",
  "script",
  "style",
  "svg",
  "xmp",
]);

/** The visible text of `html` once Mastodon sanitised it: the text content of what is left. */
export function mastodonText(html: string): string {
  return sanitize(parseFragment(html).childNodes).map(textContent).join("");
}

/**
 * Mastodon's sanitising, as a tree: allowed elements stay, other elements give way to their
 * children, `removedWithContents` and comments go.
 */
function sanitize(nodes: readonly Node[]): Node[] {
  return nodes.flatMap((node): Node[] => {
    if (node.nodeName === "#text") return [node];
    if (!("childNodes" in node) || removedWithContents.has(node.nodeName)) return [];
    const children = sanitize(node.childNodes);
    if (!allowed.has(node.nodeName)) return children;
    return [{ ...node, childNodes: children } as Node];
  });
}

function textContent(node: Node): string {
  if (node.nodeName === "#text") return (node as DefaultTreeAdapterTypes.TextNode).value;
  return "childNodes" in node ? node.childNodes.map(textContent).join("") : "";
}
