/**
 * `npm run replies`: the review queue of replies held under `REPLIES=review`.
 *
 *   npm run replies                          lists held replies, newest first
 *   npm run replies -- list [SLUG]           the same, of one article
 *   npm run replies -- approve ID… | --all SLUG
 *   npm run replies -- reject ID… | --all SLUG
 *
 * An ID is the reply's ActivityPub id, as listed. Approved replies show on the running
 * service's pages within a second or two (it re-reads the store's change time every second);
 * rejected ones are deleted. Exit code 0 when everything named was done, 1 when an id was
 * no (held) reply or an article unknown, 2 on a usage or configuration problem.
 */
import { openBackends } from "../backends/open.ts";
import type { Config } from "../config.ts";
import { configOrExit } from "../env.ts";
import { interactionOptions } from "../federation/account.ts";
import type { HeldReply, InteractionStore } from "../federation/interactions/store.ts";
import { htmlToText } from "../federation/objects.ts";
import { configureLogging } from "../logging.ts";
import type { ArticleStore } from "../store/store.ts";

const usage = `Usage:
  npm run replies                            list the replies waiting for review
  npm run replies -- list [SLUG]             the same, for one article
  npm run replies -- approve ID… | --all SLUG
  npm run replies -- reject ID… | --all SLUG`;

/** How much of a reply's text the list shows. */
const TEXT_CHARS = 500;

type Command =
  | { readonly action: "list"; readonly slug?: string }
  | { readonly action: "approve" | "reject"; readonly ids: readonly string[] }
  | { readonly action: "approve" | "reject"; readonly slug: string };

/** The command line, or undefined when it is not one this command reads. */
export function parseArgs(args: readonly string[]): Command | undefined {
  const [action = "list", ...rest] = args;
  if (action === "list") {
    if (rest.length > 1 || rest[0]?.startsWith("-")) return undefined;
    return rest[0] === undefined ? { action } : { action, slug: rest[0] };
  }
  if (action !== "approve" && action !== "reject") return undefined;
  if (rest[0] === "--all") {
    return rest.length === 2 && rest[1] !== undefined ? { action, slug: rest[1] } : undefined;
  }
  if (rest.length === 0 || rest.some((id) => id.startsWith("-"))) return undefined;
  return { action, ids: rest };
}

async function main(): Promise<number> {
  const command = parseArgs(process.argv.slice(2));
  if (command === undefined) {
    console.error(usage);
    return 2;
  }
  const config = configOrExit({ checkFolders: true });
  await configureLogging("warning", config.logFormat);
  const backends = await openBackends(config);
  try {
    const interactions = await backends.openInteractions(interactionOptions(config));
    const deps = { store: backends.articles, interactions, config };
    return command.action === "list" ? await list(deps, command.slug) : await decide(deps, command);
  } finally {
    await backends.close();
  }
}

interface Deps {
  readonly store: ArticleStore;
  readonly interactions: InteractionStore;
  readonly config: Config;
}

/** The article with `slug`, or undefined after saying there is none. */
async function articleId(store: ArticleStore, slug: string): Promise<string | undefined> {
  const found = await store.findBySlug(slug);
  if (found === undefined) console.error(`There is no article with the slug "${slug}".`);
  return found?.article.id;
}

async function list({ store, interactions, config }: Deps, slug?: string): Promise<number> {
  const id = slug === undefined ? undefined : await articleId(store, slug);
  if (slug !== undefined && id === undefined) return 1;
  const held = await interactions.held(id);
  if (config.replies !== "review") {
    console.log(`REPLIES=${config.replies}: new replies are not held for review.`);
  }
  if (held.length === 0) {
    console.log("No replies wait for review.");
    return 0;
  }
  console.log(`${count(held.length, "reply waits", "replies wait")} for review, newest first:\n`);
  const titles = new Map<string, string>();
  for (const item of held) {
    if (!titles.has(item.articleId)) {
      const record = await store.findById(item.articleId);
      const { slug: s, title } = record?.article ?? { slug: item.articleId, title: "(gone)" };
      titles.set(item.articleId, `${s}: ${title}`);
    }
    console.log(describe(item, titles.get(item.articleId) ?? item.articleId));
  }
  console.log(
    "Show:   npm run replies -- approve ID… (or --all SLUG)\n" +
      "Delete: npm run replies -- reject ID… (or --all SLUG)",
  );
  return 0;
}

/** One held reply, as the list shows it. */
export function describe({ reply }: HeldReply, article: string): string {
  const { actor } = reply;
  const who = actor.handle ?? actor.id;
  const lines = [
    terminalSafe(reply.id),
    `  by       ${terminalSafe(actor.name ? `${who} (${actor.name})` : who)}`,
    `  on       ${terminalSafe(article)}`,
    `  at       ${reply.published.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC")}`,
  ];
  if (reply.signals !== undefined && reply.signals.length > 0) {
    lines.push(`  signals  ${reply.signals.map((s) => s.replace("-", " ")).join(", ")}`);
  }
  const text = htmlToText(reply.contentHtml ?? "");
  const shown = text.length > TEXT_CHARS ? `${text.slice(0, TEXT_CHARS - 1)}…` : text;
  lines.push(`  text     ${terminalSafe(shown)}`, "");
  return lines.join("\n");
}

/**
 * Text from another server, safe to print: no control characters, so a reply cannot move the
 * cursor, rewrite earlier lines or change the terminal's title with escape sequences.
 */
function terminalSafe(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
}

async function decide(
  { store, interactions }: Deps,
  command: Exclude<Command, { action: "list" }>,
): Promise<number> {
  let ids: readonly string[];
  if ("slug" in command) {
    const id = await articleId(store, command.slug);
    if (id === undefined) return 1;
    ids = (await interactions.held(id)).map(({ reply }) => reply.id);
    if (ids.length === 0) console.log(`No replies to "${command.slug}" wait for review.`);
  } else {
    ids = command.ids;
  }
  const approve = command.action === "approve";
  let done = 0;
  for (const id of ids) {
    if (await (approve ? interactions.approve(id) : interactions.reject(id))) {
      console.log(`${approve ? "approved" : "rejected"}  ${id}`);
      done++;
    } else {
      console.error(`not found ${id}: ${approve ? "no held reply" : "no reply"} has this id.`);
    }
  }
  if (done > 0) {
    console.log(
      approve
        ? `\nApproved ${count(done, "reply", "replies")}: the site shows them within a second or two.`
        : `\nRejected ${count(done, "reply", "replies")}: deleted.`,
    );
  }
  return done === ids.length ? 0 : 1;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

process.exitCode = await main();
