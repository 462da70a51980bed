/**
 * The account, assembled once for `npm start` and for every command that acts as it
 * (`npm run move`): keys, the federation with its stores, the publisher of articles, and the
 * interaction store, so that all of them see and send the same.
 */
import type { Federation, KvStore } from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import type { Backends } from "../backends/open.ts";
import type { Config } from "../config.ts";
import type { Publisher } from "../pipeline.ts";
import { keepListener } from "./delivery/deliver-now.ts";
import { unreachableOrigins } from "./delivery/gone-servers.ts";
import { createFirstTryDispatcher, outgoingLimits } from "./delivery/outgoing.ts";
import { createFederationPublisher } from "./delivery/publisher.ts";
import { trackDeliveries } from "./delivery/tracking.ts";
import {
  accountActor,
  buildFederation,
  type FederationOptions,
  resolveProfile,
} from "./federation.ts";
import { importKvInteractions } from "./interactions/legacy.ts";
import { revokeQuotes } from "./interactions/quotes.ts";
import type { InteractionStore, InteractionStoreOptions } from "./interactions/store.ts";
import { type AccountKeys, loadOrCreateKeys } from "./keys.ts";
import { resolveMentions } from "./mentions.ts";
import { readMovedTo } from "./migration.ts";
import { type AccountImage, accountOptions } from "./options.ts";
import { announceProfileChange } from "./profile-update.ts";
import { relayRecipients } from "./relays.ts";
import { openSections, type SectionAccounts, sectionActor } from "./sections/accounts.ts";
import { createSectionsPublisher } from "./sections/publisher.ts";

const logger = getLogger(["herald", "federation"]);

/**
 * For moving interactions from the KV store: every one kept and shown as before (the store's
 * default `REPLIES=auto`), and dated at the epoch so that the move spends no server's quota
 * of today.
 */
const UNLIMITED: InteractionStoreOptions = {
  maxPerArticle: Number.POSITIVE_INFINITY,
  maxRepliesPerActor: Number.POSITIVE_INFINITY,
  maxRepliesPerServerPerDay: Number.POSITIVE_INFINITY,
  now: () => new Date(0),
};

export interface Account {
  readonly federation: Federation<void>;
  readonly options: FederationOptions;
  /** Avatar and header given as local files, which the app serves. */
  readonly images: Record<string, AccountImage>;
  readonly keys: AccountKeys;
  /** Replies, likes and boosts from the fediverse, without those `HIDE_REACTIONS_FROM` hides. */
  readonly interactions: InteractionStore;
  /** `@user@host`. */
  readonly handle: string;
  readonly actor: URL;
  /** Where the account moved to (`npm run move`), if it did. */
  readonly movedTo: URL | undefined;
  /** Sends each article change to the followers (after the site: see `main.ts`). */
  readonly publisher: Publisher;
  /** The section accounts (`SECTIONS`), by id. */
  readonly sections: SectionAccounts;
  /** Boosts the stories carrying a section's tags (after `publisher`). */
  readonly sectionsPublisher: Publisher;
}

/**
 * Assembles the account on `backends`. Creates its keys on the first start; fails with
 * `MissingKeysError` when the keys are gone but the stores say they were made.
 */
export async function openAccount(config: Config, backends: Backends): Promise<Account> {
  const { kv, followers, articles } = backends;
  const keys = await loadOrCreateKeys(config.keysDir, kv);
  const interactions = await openInteractions(backends, config);
  const { images, federation: options } = await accountOptions(config);
  // The queue records each delivery in the ledger, for the log and `npm run doctor`; its
  // listener runs a fan-out's first tries as the fan-out is expanded.
  const runner = keepListener(backends.queue);
  const deliveries = trackDeliveries(runner.queue, backends.ledger);
  const sections = await openSections(config.sections, {
    keysDir: config.keysDir,
    kv,
    followersOf: backends.followersOf,
  });
  const federation = buildFederation(options, {
    sections,
    store: articles,
    kv,
    queue: deliveries.queue,
    deliverNow: {
      run: runner.run,
      delivered: (activityId, inboxes) => backends.ledger.delivered(activityId, inboxes),
    },
    firstTryDispatcher: createFirstTryDispatcher(outgoingLimits(config)),
    keys,
    followers,
    interactions,
    onDeliveryError: deliveries.failed,
  });
  const publish = createFederationPublisher(
    federation,
    {
      firstScan: () => articles.firstScan(),
      relays: () => relayRecipients({ kv, followers }, config.relays),
      unreachable: () => unreachableOrigins(kv),
      mentions: (articles) => resolveMentions(kv, articles, options),
      revokeQuotes: (ctx, articleId) =>
        revokeQuotes(ctx, { store: interactions, identifier: config.accountUsername }, articleId),
    },
    { ...options, quietImport: { maxAgeMs: config.quietImportHours * 3_600_000 } },
  );
  return {
    federation,
    options,
    images,
    keys,
    interactions,
    handle: `@${config.accountUsername}@${config.publicUrl.host}`,
    actor: federation.createContext(config.publicUrl).getActorUri(config.accountUsername),
    movedTo: await readMovedTo(kv),
    publisher: { name: "federation", publish },
    sections,
    sectionsPublisher: createSectionsPublisher(
      federation,
      {
        sections,
        kv,
        firstScan: () => articles.firstScan(),
        unreachable: () => unreachableOrigins(kv),
      },
      { ...options, quietImport: { maxAgeMs: config.quietImportHours * 3_600_000 } },
    ),
  };
}

/** The interaction store, after moving what older versions kept in the KV store into it. */
async function openInteractions(backends: Backends, config: Config): Promise<InteractionStore> {
  const moved = await importKvInteractions(backends.kv, await backends.openInteractions(UNLIMITED));
  if (moved > 0) {
    logger.info("Moved {count} replies, likes and boosts to their own tables.", { count: moved });
  }
  return await backends.openInteractions(interactionOptions(config));
}

/** How the configuration has replies kept: hidden senders, review, trust. */
export function interactionOptions(config: Config): InteractionStoreOptions {
  return {
    hide: config.hideReactionsFrom,
    replies: config.replies,
    trust: config.repliesTrust,
  };
}

/**
 * Queues an `Update` of the actor for the followers when the profile changed since the last
 * start (the first start only records it). Run by the processes that scan, not the workers.
 */
export async function announceProfile(
  account: Account,
  config: Config,
  kv: KvStore,
): Promise<void> {
  const ctx = account.federation.createContext(config.publicUrl);
  const actor = await accountActor(ctx, account.options, { kv, keys: account.keys });
  const announced = await announceProfileChange(ctx, kv, config.accountUsername, actor);
  if (announced === "sent") logger.info("Profile changed: queued an Update for followers.");
  // A section's profile derives from the site's: it changes with it.
  const main = resolveProfile(account.options, account.keys.createdAt);
  for (const [id, sectionAccount] of account.sections) {
    const section = await sectionActor(ctx, main, sectionAccount);
    const key = ["herald", "sections", id, "profileFingerprint"] as const;
    if ((await announceProfileChange(ctx, kv, id, section, key)) === "sent") {
      logger.info("Profile of section {id} changed: queued an Update for its followers.", { id });
    }
  }
}
