/**
 * The sections' publisher (issue #18.3), after the main account's in the pipeline, with its
 * own cursor: a created story carrying a section's tag is boosted by the section (`Announce`
 * of the main account's post); an edit needs nothing (the main `Update` reaches every reader
 * of the post) unless the tags changed: a section whose tag was added boosts, one whose tag
 * was removed takes its boost back (`Undo`); a deleted story is un-boosted by every section.
 * Stories the main account did not push (an import, backdated) are never boosted.
 */
import type { Context, Federation, KvStore } from "@fedify/fedify";
import { Announce, type Undo } from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import type { ChangeEvent } from "../../article.ts";
import { sectionsFor } from "../../config-sections.ts";
import type { Publisher } from "../../pipeline.ts";
import { DEFAULT_QUIET_IMPORT_AGE_MS, toFollowers } from "../delivery/publisher.ts";
import { quietReason } from "../delivery/quiet-import.ts";
import { type ObjectContext, objectContextOf, objectId } from "../objects.ts";
import type { SectionAccounts } from "./accounts.ts";
import {
  announceId,
  type SectionContext,
  sectionContextOf,
  toAnnounce,
  toUndoAnnounce,
} from "./announces.ts";
import { readShares, writeShares } from "./shares.ts";

const logger = getLogger(["herald", "federation", "sections"]);

export interface SectionsPublisherDeps {
  readonly sections: SectionAccounts;
  readonly kv: KvStore;
  readonly firstScan: () => Promise<Date | undefined>;
  readonly unreachable?: () => Promise<readonly URL[]>;
}

export interface SectionsPublisherOptions {
  readonly origin: URL;
  /** The main account's username. */
  readonly username: string;
  readonly quietImport?: { readonly maxAgeMs?: number; readonly firstScan?: boolean };
}

interface Send {
  readonly ctx: Context<void>;
  readonly main: ObjectContext;
  readonly skipped: readonly URL[];
}

export function createSectionsPublisher(
  federation: Federation<void>,
  deps: SectionsPublisherDeps,
  options: SectionsPublisherOptions,
): Publisher {
  const maxAgeMs = options.quietImport?.maxAgeMs ?? DEFAULT_QUIET_IMPORT_AGE_MS;
  const firstScanIsImport = options.quietImport?.firstScan ?? true;
  const publish = async (events: readonly ChangeEvent[]) => {
    if (deps.sections.size === 0 || events.length === 0) return;
    const importScanAt = firstScanIsImport ? (await deps.firstScan())?.getTime() : undefined;
    const ctx = federation.createContext(options.origin, undefined);
    const send: Send = {
      ctx,
      main: objectContextOf(ctx, options.username, "article"),
      skipped: (await deps.unreachable?.()) ?? [],
    };
    for (const event of events) {
      const before = await readShares(deps.kv, event.article.id);
      const pushed =
        event.type === "created"
          ? quietReason(event, { importScanAt, maxAgeMs }) === undefined
          : before?.pushed === true;
      const wanted =
        pushed && event.type !== "deleted"
          ? sectionsFor(
              [...deps.sections.values()].map((s) => s.section),
              event.article.tags,
            )
          : [];
      const after = await share(
        send,
        event,
        before?.announces ?? {},
        new Set(wanted.map((s) => s.id)),
        deps.sections,
      );
      // A story edited or deleted without a record predates the sections: nothing to keep.
      const keep = event.type === "created" || (event.type === "updated" && before !== undefined);
      await writeShares(deps.kv, event.article.id, keep ? { pushed, announces: after } : undefined);
    }
  };
  return { name: "sections", publish };
}

/** Queues the boosts and un-boosts that take the article from `before` to `wanted`. */
async function share(
  send: Send,
  event: ChangeEvent,
  before: Readonly<Record<string, string>>,
  wanted: ReadonlySet<string>,
  sections: SectionAccounts,
): Promise<Record<string, string>> {
  const after: Record<string, string> = { ...before };
  const { article } = event;
  for (const id of wanted) {
    if (before[id] !== undefined) continue;
    const section = sectionContextOf(send.ctx, id);
    const announce = toAnnounce(
      announceId(section, article.id, event.seq),
      article,
      section,
      send.main,
      event.at,
    );
    await deliver(send, id, announce, article.id);
    after[id] = announce.id?.href ?? "";
    logger.info("Queued the boost of {slug} by section {section}.", {
      slug: article.slug,
      section: id,
    });
  }
  for (const [id, announced] of Object.entries(before)) {
    if (wanted.has(id) || !sections.has(id)) continue;
    const section = sectionContextOf(send.ctx, id);
    const undo = toUndoAnnounce(
      boostOf(announced, article.id, section, send.main),
      section,
      event.seq,
    );
    await deliver(send, id, undo, article.id);
    delete after[id];
    logger.info("Queued the undoing of section {section}'s boost of {slug}.", {
      slug: article.slug,
      section: id,
    });
  }
  return after;
}

/** The boost as it was sent, enough for an `Undo` that embeds it. */
function boostOf(
  id: string,
  articleId: string,
  section: SectionContext,
  main: ObjectContext,
): Announce {
  return new Announce({
    id: new URL(id),
    actor: section.actorId,
    object: objectId(articleId, main),
  });
}

async function deliver(send: Send, section: string, activity: Announce | Undo, articleId: string) {
  // After the main account's Create (Update, Delete) of the post, on every server.
  const orderingKey = objectId(articleId, send.main).href;
  await send.ctx.sendActivity(
    { identifier: section },
    "followers",
    activity,
    toFollowers(orderingKey, send.skipped),
  );
}
