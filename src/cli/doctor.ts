/**
 * `npm run doctor [-- https://news.example]`: a federation self-test against a running
 * instance, seen from outside as Mastodon sees it, plus what only this machine can check
 * (key files, the delivery queue, the delivery report of the newest activities). One line per check with a verdict; exit 1 on a failure.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { KvStore } from "@fedify/fedify";
import { type Backends, openBackends } from "../backends/open.ts";
import type { Config } from "../config.ts";
import { configOrExit } from "../env.ts";
import { removedFollowers, unreachableServers } from "../federation/delivery/gone-servers.ts";
import {
  type ActivityReport,
  type DeliveryLedger,
  summarize,
} from "../federation/delivery/ledger.ts";
import { htmlToText } from "../federation/objects.ts";
import { describeRelays } from "../federation/relays.ts";
import { cutAtWord } from "../source/text.ts";
import { paths } from "../urls.ts";
import {
  actorFieldChecks,
  bylineCheck,
  type Check,
  describe,
  fail,
  type Get,
  isLoopback,
  ok,
  publicOriginCheck,
  signatureChecks,
  siteChecks,
  warn,
} from "./doctor-public.ts";
import { replyChecks } from "./doctor-replies.ts";
import { sectionChecks } from "./doctor-sections.ts";

type Verdict = Check["verdict"];

const marks: Record<Verdict, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" };
const activityJson = "application/activity+json";

async function main(): Promise<number> {
  const config = configOrExit({ checkFolders: false });
  const target = process.argv[2] ? new URL(process.argv[2]) : config.publicUrl;
  console.log(`Herald doctor: ${target.origin} (@${config.accountUsername}@${target.host})\n`);
  const checks: Check[] = [];
  const report = (check: Check) => {
    checks.push(check);
    console.log(`${marks[check.verdict]}  ${check.what}: ${check.detail}`);
  };
  for await (const check of remoteChecks(target, config)) report(check);
  for (const check of await localChecks(config)) report(check);
  const failed = checks.filter((c) => c.verdict === "fail").length;
  const warned = checks.filter((c) => c.verdict === "warn").length;
  console.log(
    `\n${failed === 0 ? "Federation looks healthy" : "Federation has problems"}: ${checks.length} checks, ${failed} failed, ${warned} warnings.`,
  );
  return failed > 0 ? 1 : 0;
}

async function* remoteChecks(origin: URL, config: Config): AsyncGenerator<Check> {
  const get: Get = (url, accept) =>
    fetch(url, {
      headers: { Accept: accept },
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
  if (!(yield* siteChecks(origin, get))) return;
  const found = yield* webfingerCheck(origin, config, get);
  if (found === undefined) return;
  const actor = yield* actorChecks(origin, config, found.self, get);
  const mainKey = (actor.publicKey as { publicKeyPem?: string } | undefined)?.publicKeyPem;
  for (const check of await sectionChecks(origin, config, get, mainKey)) yield check;

  const nodeinfo = await get(new URL("/.well-known/nodeinfo", origin), "application/json");
  yield nodeinfo.ok
    ? ok("NodeInfo", "discoverable")
    : warn("NodeInfo", `answered ${nodeinfo.status}`);

  const newest = yield* articleCheck(origin, String(actor.outbox ?? ""), get);
  yield await publicOriginCheck(origin, get, { webfinger: found.jrd, actor }, newest);
  const canFetchItself = config.allowPrivateAddress || !isLoopback(origin);
  for (const check of await signatureChecks(config.keysDir, actor, { canFetchItself })) {
    yield check;
  }
}

/** The account's WebFinger answer and the actor URL it links to, if it does. */
async function* webfingerCheck(
  origin: URL,
  config: Config,
  get: Get,
): AsyncGenerator<Check, { jrd: unknown; self: string } | undefined> {
  const resource = `acct:${config.accountUsername}@${origin.host}`;
  const finger = await get(
    new URL(`/.well-known/webfinger?resource=${encodeURIComponent(resource)}`, origin),
    "application/jrd+json",
  );
  const jrd = finger.ok
    ? ((await finger.json()) as { links?: { rel: string; type?: string; href?: string }[] })
    : undefined;
  const self = jrd?.links?.find((l) => l.rel === "self" && l.type === activityJson)?.href;
  if (!self) {
    yield fail("WebFinger", `${resource} answered ${finger.status} without a self link`);
    return undefined;
  }
  yield ok("WebFinger", `${resource} → ${self}`);
  return { jrd, self };
}

/** The actor as servers fetch it, and as browsers do; returns its document. */
async function* actorChecks(
  origin: URL,
  config: Config,
  self: string,
  get: Get,
): AsyncGenerator<Check, Record<string, unknown>> {
  const actorResponse = await get(self, activityJson);
  const actor = actorResponse.ok ? ((await actorResponse.json()) as Record<string, unknown>) : {};
  const endpoints = actor.endpoints as { sharedInbox?: string } | undefined;
  const publicKey = actor.publicKey as { publicKeyPem?: string } | undefined;
  const missing = [
    ["inbox", actor.inbox],
    ["outbox", actor.outbox],
    ["followers", actor.followers],
    ["endpoints.sharedInbox", endpoints?.sharedInbox],
    ["publicKey", publicKey?.publicKeyPem],
  ].flatMap(([name, value]) => (value ? [] : [name]));
  yield actorResponse.ok && missing.length === 0
    ? ok(
        "Actor",
        `${String(actor.type)} "${String(actor.name ?? actor.preferredUsername)}" with inbox, outbox, followers, shared inbox and key`,
      )
    : fail(
        "Actor",
        `GET ${self} answered ${actorResponse.status}${missing.length ? `; missing ${missing.join(", ")}` : ""}`,
      );
  yield actor.id === self
    ? ok("Actor id", "matches the WebFinger link")
    : fail(
        "Actor id",
        `${String(actor.id)} differs from ${self}: check PUBLIC_URL and the proxy's Host header`,
      );
  yield* actorFieldChecks(actor, `${config.accountUsername}@${origin.host}`, origin.hostname);
  if (typeof actor.movedTo === "string") {
    yield warn("Moved", `the account moved to ${actor.movedTo} (npm run move)`);
  }
  const vary = actorResponse.headers.get("vary") ?? "";
  yield /accept/i.test(vary)
    ? ok("Vary: Accept", "set, so caches keep HTML and ActivityPub apart")
    : fail("Vary: Accept", "missing on the actor: a cache in front may serve HTML to servers");
  const asHtml = await get(self, "text/html");
  yield asHtml.status < 400
    ? ok(
        "Content negotiation",
        `a browser at the actor gets ${asHtml.status} ${asHtml.headers.get("location") ?? asHtml.headers.get("content-type") ?? ""}`,
      )
    : fail("Content negotiation", `a browser at the actor gets ${asHtml.status}`);
  return actor;
}

/** What Mastodon will show of the newest article; returns its object's URL. */
async function* articleCheck(
  origin: URL,
  outboxUrl: string,
  get: Get,
): AsyncGenerator<Check, string | undefined> {
  const feed = await get(new URL(paths.json, origin), "application/feed+json");
  const newest = feed.ok ? ((await feed.json()) as { items?: FeedItem[] }).items?.[0] : undefined;
  if (!newest) {
    yield warn("Posts", "no article published yet");
    return;
  }
  const response = await get(newest.id, activityJson);
  if (!response.ok) {
    yield fail("Post", `GET ${newest.id} answered ${response.status}`);
    return newest.id;
  }
  const object = (await response.json()) as Record<string, unknown>;
  const text = (html: unknown) => htmlToText(String(html ?? ""));
  if (object.type === "Note") {
    yield ok(
      "Post (Note)",
      `Mastodon shows the full text: "${text(object.content).slice(0, 120)}…"`,
    );
  } else {
    const summary = text(object.summary);
    yield summary
      ? ok(
          "Post (Article)",
          `Mastodon shows the title "${String(object.name)}", the summary "${summary.slice(0, 100)}…" and a link to ${String(object.url)}`,
        )
      : fail("Post (Article)", "no summary: Mastodon would show a title and a bare link");
  }
  yield summaryCheck(object, newest);
  const page = typeof object.url === "string" ? await get(object.url, "text/html") : undefined;
  if (page?.ok) yield bylineCheck(await page.text());
  yield object.contentMap
    ? ok("Post language", `contentMap in ${Object.keys(object.contentMap as object).join(", ")}`)
    : warn("Post language", "no contentMap: Mastodon cannot tell the language");
  const outbox = outboxUrl ? await get(outboxUrl, activityJson) : undefined;
  const total = outbox?.ok
    ? ((await outbox.json()) as { totalItems?: number }).totalItems
    : undefined;
  yield total === undefined
    ? fail("Outbox", `answered ${outbox?.status ?? "nothing"}`)
    : ok("Outbox", `${total} posts`);
  return newest.id;
}

/** The newest JSON Feed item: its `title` and `summary` are plain text, as the author wrote them. */
interface FeedItem {
  readonly id: string;
  readonly title?: string;
  readonly summary?: string;
}

/**
 * Issue #12.8: the summary Mastodon will show (the object's `summary` is HTML, so its text) is
 * the summary the author wrote. A Note has no summary: its text must start with the title.
 */
function summaryCheck(object: Record<string, unknown>, item: FeedItem): Check {
  const note = object.type === "Note";
  const what = note ? "Title as written" : "Summary as written";
  const written = (note ? item.title : item.summary) ?? "";
  const shown = htmlToText(String((note ? object.content : object.summary) ?? ""));
  if (note ? shown.startsWith(written) : shown === written) {
    return ok(what, `Mastodon shows it as the author wrote it: "${cutAtWord(written, 100)}"`);
  }
  return fail(
    what,
    `the author wrote "${cutAtWord(written, 100)}", Mastodon shows "${cutAtWord(shown, 100)}": plain text must reach it escaped as HTML`,
  );
}

async function localChecks(config: Config): Promise<Check[]> {
  const checks: Check[] = [];
  if (
    !existsSync(config.keysDir) ||
    readdirSync(config.keysDir).filter((f) => f.endsWith(".json")).length === 0
  ) {
    checks.push(
      warn(
        "Key files",
        `none in ${config.keysDir} (run the doctor on the server, or the keys are elsewhere)`,
      ),
    );
  } else {
    for (const file of readdirSync(config.keysDir).filter((f) => f.endsWith(".json"))) {
      const mode = statSync(join(config.keysDir, file)).mode & 0o777;
      checks.push(
        mode & 0o077
          ? fail(
              "Key file",
              `${file} has mode ${mode.toString(8)}: run chmod 600 ${join(config.keysDir, file)}`,
            )
          : ok("Key file", `${file} is private (mode ${mode.toString(8)})`),
      );
    }
  }
  checks.push(...(await storeChecks(config)));
  return checks;
}

/** The delivery queue, relays, gone servers and deliveries, where the configuration keeps them. */
async function storeChecks(config: Config): Promise<Check[]> {
  const dbFile = join(config.dataDir, "herald.sqlite");
  if (config.databaseUrl === undefined && !existsSync(dbFile)) {
    return [warn("Delivery queue", `no database at ${dbFile} (run the doctor where Herald runs)`)];
  }
  let backends: Backends;
  try {
    backends = await openBackends(config);
  } catch (error) {
    return [fail("Delivery queue", `cannot be reached: ${describe(error)}`)];
  }
  try {
    return [
      ...(await queueChecks(backends, config)),
      ...(await deliveryChecks(backends.ledger)),
      ...(await replyChecks(backends, config)),
    ];
  } finally {
    await backends.close();
  }
}

/** The delivery report of the newest activities sent: per activity, and the hosts behind. */
async function deliveryChecks(ledger: DeliveryLedger): Promise<Check[]> {
  try {
    const reports = summarize(await ledger.rows({ limit: 5 }));
    if (reports.length === 0) return [ok("Deliveries", "nothing sent yet")];
    return reports.map(deliveryCheck);
  } catch (error) {
    return [fail("Deliveries", `the delivery report cannot be read: ${describe(error)}`)];
  }
}

function deliveryCheck(report: ActivityReport): Check {
  const what = `${report.activityType} ${report.activityId}`;
  const counts = `${report.delivered} delivered, ${report.pending} pending, ${report.failed} failed`;
  const troubled = report.hosts
    .filter((h) => h.failed > 0 || h.pending > 0)
    .slice(0, 5)
    .map(
      (h) =>
        `${h.host}: ${h.failed > 0 ? `${h.failed} failed` : `${h.pending} pending`}${h.error ? ` (${h.error})` : ""}`,
    );
  const detail = `${counts} (queued ${report.queuedAt.toISOString()})${troubled.length > 0 ? `; ${troubled.join("; ")}` : ""}`;
  return report.failed + report.pending === 0 ? ok(what, detail) : warn(what, detail);
}

/**
 * The delivery queue where the configuration puts it (SQLite, PostgreSQL or Redis), and what
 * each relay in `RELAYS` answered, from the key–value store beside it.
 */
async function queueChecks(backends: Backends, config: Config): Promise<Check[]> {
  try {
    const depth = await backends.queue.depth();
    const detail = `${depth.queued} waiting, ${depth.delayed} retrying later, ${depth.inFlight} in flight (${backends.describe.federation})`;
    const relays = await describeRelays(backends.kv, config.relays);
    return [
      depth.queued > 1000
        ? warn("Delivery queue", `${detail}: deliveries are behind`)
        : ok("Delivery queue", detail),
      ...relays.map(({ url, state, text }) =>
        state === "accepted" ? ok(`Relay ${url.href}`, text) : warn(`Relay ${url.href}`, text),
      ),
      ...(await goneServerChecks(backends.kv)),
    ];
  } catch (error) {
    return [fail("Delivery queue", `cannot be reached: ${describe(error)}`)];
  }
}

/**
 * Issue #12.6: followers removed because their servers are gone (the last few named), and
 * servers unreachable for longer than deliveries are retried, which new posts skip for now.
 */
async function goneServerChecks(kv: KvStore): Promise<Check[]> {
  const checks: Check[] = [];
  const removed = await removedFollowers(kv);
  if (removed.length > 0) {
    const last = removed
      .slice(0, 5)
      .map((follower) => `${follower.actor.href} (${follower.at.toISOString()})`);
    const count = `${removed.length} follower${removed.length === 1 ? "" : "s"}`;
    checks.push(
      ok(
        "Followers removed",
        `${count} removed: their servers are gone; the last: ${last.join(", ")}`,
      ),
    );
  }
  for (const server of await unreachableServers(kv)) {
    checks.push(
      warn(
        `Server ${server.origin.host}`,
        `unreachable since ${server.since.toISOString()}: new posts skip it until ${server.until.toISOString()}, or until it answers a held delivery`,
      ),
    );
  }
  return checks;
}

process.exitCode = await main();
