/**
 * The site's icon: `SITE_ICON` (an .svg, .png or .ico file) or a plain default, served at
 * `/favicon.<ext>` and named by every page's `<link rel="icon">`.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";

export interface SiteIcon {
  /** Where it is served: `/favicon.svg`, `/favicon.png` or `/favicon.ico`. */
  readonly path: string;
  readonly contentType: string;
  readonly body: string | Uint8Array;
}

/** Browsers ask for it without being told; it names the icon when that is another file. */
export const legacyIconPath = "/favicon.ico";

export const iconTypes: Readonly<Record<string, string>> = {
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** A newspaper's "N" on the accent colour of the stylesheet: legible at 16 px. */
export const defaultIcon: SiteIcon = {
  path: "/favicon.svg",
  contentType: iconTypes[".svg"] ?? "image/svg+xml",
  body: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="6" fill="#b3261e"/>
<path d="M9 24V8h3.2l7.3 10.6V8H23v16h-3.1L12.5 13.4V24z" fill="#fff"/>
</svg>
`,
};

/** `SITE_ICON`, read once at start (the configuration checked its extension). */
export async function readIcon(file: string): Promise<SiteIcon> {
  const extension = extname(file).toLowerCase();
  return {
    path: `/favicon${extension}`,
    contentType: iconTypes[extension] ?? "application/octet-stream",
    body: new Uint8Array(await readFile(file)),
  };
}
