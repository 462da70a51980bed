/**
 * The articles `bench/scan.ts` measures with: deterministic Markdown of about 3 KB each
 * (front matter, a heading, paragraphs, a list, a link), 20 section folders. Run on its own,
 * it writes a folder for a whole-process measurement: `node bench/scan-articles.ts DIR COUNT`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const words = (
  "the council budget river school market election harbour train winter festival museum " +
  "minister report city night weather court hospital library bridge market growth union"
).split(" ");

/** Writes `n` articles below `dir`, the same ones at every call. */
export function generateArticles(dir: string, n: number): void {
  let seed = 42;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed;
  };
  const sentence = () => {
    const length = 8 + (next() % 12);
    const text = Array.from({ length }, () => words[next() % words.length]).join(" ");
    return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
  };
  const paragraph = () => Array.from({ length: 4 }, sentence).join(" ");
  for (let i = 0; i < n; i++) {
    const folder = join(dir, `section-${i % 20}`);
    if (i < 20) mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `story-${i}.md`), storyText(i, sentence, paragraph));
  }
}

/** One more story, newer than every generated one: what a newsroom publishes next. */
export function newStory(title: string): string {
  return `---\ntitle: "${title}"\ndate: 2026-06-01T08:00:00Z\ntags: [council]\n---\nThe council met tonight and agreed on next year's budget after a long debate.\n`;
}

function storyText(i: number, sentence: () => string, paragraph: () => string): string {
  // Dates spread over about eleven years, so that archive pages and the sitemap are realistic.
  const date = new Date(Date.UTC(2015, 0, 1) + i * 3_600_000).toISOString();
  const body = [
    `## ${sentence()}`,
    paragraph(),
    paragraph(),
    `- ${sentence()}\n- ${sentence()}\n- [${words[i % words.length]}](https://example.test/${i})`,
    paragraph(),
    paragraph(),
    paragraph(),
  ].join("\n\n");
  const front = `---\ntitle: "Story ${i}: ${sentence()}"\ndate: ${date}\ntags: [${words[i % 7]}, ${words[i % 11]}]\n---\n`;
  return `${front}${body}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, count] = process.argv.slice(2);
  if (dir === undefined) throw new Error("Usage: node bench/scan-articles.ts DIR COUNT");
  generateArticles(dir, Number(count ?? 100_000));
}
