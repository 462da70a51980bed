/**
 * The authors file (issue #18.1): `authors.yml` at the top of the articles folder maps an
 * author's name to their own fediverse account once, so a story needs only `author: Jane Doe`
 * to mention Jane and name her as its creator:
 *
 * ```yaml
 * Jane Doe: "@jane@example.social"
 * Max Mustermann: "@max@social.example"
 * ```
 *
 * It is read at every scan (and by `articles:check` and `preview`), never published as an
 * article. A story's own `author: { fediverse }` wins over it. A bad entry is reported with
 * the file's line and left out; the others still apply.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import type { Skipped } from "../store/store.ts";
import { parseAuthor } from "./author.ts";

/** Its name, at the top of `ARTICLES_DIR`. */
export const AUTHORS_FILE = "authors.yml";

export interface Authors {
  /** Each author's handle (`@jane@example.social`) by name as written in the articles. */
  readonly handles: ReadonlyMap<string, string>;
  /** The entries left out, with their line. */
  readonly problems: readonly Skipped[];
}

const none: Authors = { handles: new Map(), problems: [] };

/** Reads `authors.yml` in `articlesDir`; none when there is no such file. */
export function readAuthors(articlesDir: string): Authors {
  let text: string;
  try {
    text = readFileSync(join(articlesDir, AUTHORS_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return none;
    return problem(`it cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  return parseAuthors(text);
}

/** The authors in the text of an authors file. */
export function parseAuthors(text: string): Authors {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true });
  const lineAt = (offset: number | undefined) =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;
  const [error] = document.errors;
  if (error !== undefined) {
    return problem(`not valid YAML: ${error.message.split("\n")[0]}`, lineAt(error.pos[0]));
  }
  const contents = document.contents;
  if (contents === null) return none;
  if (!isMap(contents)) {
    return problem('it must be lines of `Name: "@user@server"`', lineAt(contents.range?.[0]));
  }
  const handles = new Map<string, string>();
  const problems: Skipped[] = [];
  for (const pair of contents.items) {
    const line = lineAt(isScalar(pair.key) ? pair.key.range?.[0] : undefined);
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    const value = isScalar(pair.value) ? pair.value.value : undefined;
    const author = parseAuthor({ name, fediverse: typeof value === "string" ? value : "" });
    if (typeof author === "string" || author.name === undefined || !author.fediverse) {
      const reason =
        typeof author === "string"
          ? author.replace("`author` fediverse", `"${name}"`)
          : 'each line must be `Name: "@user@server"`';
      problems.push({ path: AUTHORS_FILE, reason, line });
      continue;
    }
    handles.set(author.name, author.fediverse);
  }
  return { handles, problems };
}

function problem(reason: string, line?: number): Authors {
  return { handles: new Map(), problems: [{ path: AUTHORS_FILE, reason, line }] };
}
