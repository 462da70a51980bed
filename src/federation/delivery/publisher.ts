/**
 * Pushes change events to followers: created → `Create`, updated → `Update`,
 * deleted → `Delete` (a `Tombstone`), through Fedify's persistent queue.
 */
import type { Context, Federation, SendActivityOptionsForCollection } from "@fedify/fedify";
import type { Recipient } from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";
import type { Article } from "../../article.ts";
import type { QuotePolicy } from "../../interactions.ts";
import type { Publisher } from "../../pipeline.ts";
import type { MentionedActor } from "../mentions.ts";
import {
  DEFAULT_POST_TYPE,
  objectContextOf,
  objectId,
  type PostType,
  toActivity,
} from "../objects.ts";
import { quietReason } from "./quiet-import.ts";

const logger = getLogger(["herald", "federation", "publisher"]);

export interface QuietImportOptions {
  /**
   * A created article whose `published` is older than this at its event is not pushed
   * (milliseconds; default 6 hours): Mastodon buries backdated posts, and a flood of
   * them reads as spam. It still appears in the outbox, featured and the feeds.
   */
  readonly maxAgeMs?: number;
  /**
   * Whether the articles of the store's first scan are an import that is not pushed (default
   * true). A scan records all its events at one time (`at`), however many batches deliver
   * them, and the store remembers when its first scan was, even one that found nothing: so
   * the first story written into an empty folder is news, and a replay decides alike.
   */
  readonly firstScan?: boolean;
}

export interface PublisherDeps {
  /** When the store's first scan was (`ArticleStore.firstScan`): what it found is an import. */
  readonly firstScan: () => Promise<Date | undefined>;
  /** The accepted relays' inboxes (`relayRecipients()`), which also get every activity. */
  readonly relays?: () => Promise<readonly Recipient[]>;
  /** Servers given up on as unreachable (`unreachableOrigins()` of `gone-servers.ts`): skipped. */
  readonly unreachable?: () => Promise<readonly URL[]>;
  /** The actors of the articles' authors (`resolveMentions()`): mentioned, and sent the post. */
  readonly mentions?: (
    articles: readonly Article[],
  ) => Promise<ReadonlyMap<string, MentionedActor>>;
  /** Revokes the quote authorizations of a story taken down (`revokeQuotes()` of `quotes.ts`). */
  readonly revokeQuotes?: (ctx: Context<void>, articleId: string) => Promise<unknown>;
}

export interface PublisherOptions {
  readonly origin: URL;
  /** The account's username (= actor identifier). */
  readonly username: string;
  /** Default `article`. */
  readonly postType?: PostType;
  /** `TIME_ZONE`, for the dates of correction notices; default UTC. */
  readonly timeZone?: string;
  readonly quietImport?: QuietImportOptions;
  /** `QUOTE_POLICY`, in each post's `interactionPolicy`; default `public`. */
  readonly quotePolicy?: QuotePolicy;
}

export const DEFAULT_QUIET_IMPORT_AGE_MS = 6 * 60 * 60 * 1000;

/**
 * The federation's `publish` (see `Publisher` in pipeline.ts): enqueues one activity per event, in order, and returns once
 * all are durably queued. Activity ids derive from the object id and `seq`, so when a
 * crash makes the caller hand the same events again, receivers see the same ids and
 * drop the duplicates.
 */
export function createFederationPublisher(
  federation: Federation<void>,
  deps: PublisherDeps,
  options: PublisherOptions,
): Publisher["publish"] {
  const maxAgeMs = options.quietImport?.maxAgeMs ?? DEFAULT_QUIET_IMPORT_AGE_MS;
  const firstScanIsImport = options.quietImport?.firstScan ?? true;
  const { username } = options;
  const postType = options.postType ?? DEFAULT_POST_TYPE;
  return async (events) => {
    const importScanAt = firstScanIsImport ? (await deps.firstScan())?.getTime() : undefined;
    const ctx: Context<void> = federation.createContext(options.origin, undefined);
    const mentions =
      events.length === 0 ? undefined : await deps.mentions?.(events.map((e) => e.article));
    const objects = {
      ...objectContextOf(ctx, username, postType, options.timeZone, options.quotePolicy),
      ...(mentions === undefined ? {} : { mentions }),
    };
    const relays = events.length === 0 ? [] : ((await deps.relays?.()) ?? []);
    const skipped = events.length === 0 ? [] : ((await deps.unreachable?.()) ?? []);
    for (const event of events) {
      const quiet = quietReason(event, { importScanAt, maxAgeMs });
      if (quiet === "import") {
        logger.debug("Not pushing {slug}: part of the initial import.", {
          slug: event.article.slug,
        });
        continue;
      }
      if (quiet === "backdated") {
        logger.info("Not pushing {slug}: published {published}, long before it was found.", {
          slug: event.article.slug,
          published: event.article.published.toISOString(),
        });
        continue;
      }
      const activity = toActivity(event, objects);
      // Create, Update and Delete of one article arrive in the order they happened.
      const orderingKey = objectId(event.article.id, objects).href;
      await ctx.sendActivity(
        { identifier: username },
        "followers",
        activity,
        toFollowers(orderingKey, skipped),
      );
      // The author hears of their story (and of its edits and removal): their inbox gets it too.
      const author = mentions?.get(event.article.authorFediverse ?? "");
      if (author !== undefined) {
        await ctx.sendActivity({ identifier: username }, author, activity, { orderingKey });
      }
      // Its quotes are no longer authorized: the quoting servers hear so.
      if (event.type === "deleted") await deps.revokeQuotes?.(ctx, event.article.id);
      // Every post is public: relays get them all.
      if (relays.length > 0) {
        await ctx.sendActivity({ identifier: username }, [...relays], activity, { orderingKey });
      }
      logger.info("Queued {type} of {slug} for followers{relays}{skipped}.", {
        type: activityName[event.type],
        slug: event.article.slug,
        relays:
          relays.length === 0 ? "" : ` and ${relays.length} relay${relays.length === 1 ? "" : "s"}`,
        skipped:
          skipped.length === 0
            ? ""
            : `, not for those on ${skipped.map((origin) => origin.host).join(", ")} (unreachable)`,
      });
    }
  };
}

const activityName = { created: "Create", updated: "Update", deleted: "Delete" } as const;

/**
 * How an account's activity goes to its followers (the main account's, a section's): to each
 * server's shared inbox, with FEP-8fcf's header (which lets Mastodon drop follows we no longer
 * know about), and always as a fan-out, whose slices name the followers behind each inbox again
 * (`followers-behind.ts`: `dispatchFollowers()` hands Fedify one follower per inbox). After what
 * was queued before under `orderingKey`; not to the servers given up on.
 */
export function toFollowers(
  orderingKey: string,
  skipped: readonly URL[],
): SendActivityOptionsForCollection {
  return {
    preferSharedInbox: true,
    syncCollection: true,
    fanout: "force",
    orderingKey,
    excludeBaseUris: [...skipped],
  };
}
