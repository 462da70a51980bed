/**
 * Who follows an account (the main one or a section's), and where to deliver to them. Each engine implements
 * it in its room: `backends/sqlite/followers.ts`, `backends/postgres/followers.ts`.
 */
export interface Follower {
  /** The remote actor's id. */
  readonly id: URL;
  readonly inbox: URL;
  /** The actor's `endpoints.sharedInbox`, when its server has one. */
  readonly sharedInbox?: URL;
  /** The id of the `Follow` activity we accepted. */
  readonly followId: URL;
  readonly createdAt: Date;
}

export interface FollowerPage {
  /** Oldest first. */
  readonly items: readonly Follower[];
  /** Pass back to `list()` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** One delivery target: a shared inbox serving several followers, or one personal inbox. */
export interface InboxGroup {
  readonly inbox: URL;
  readonly sharedInbox: boolean;
  /**
   * The followers' ids as stored (URL serialisations), not `URL`s: a slice of a fan-out reads
   * 10,000 of them at a time and only hands them on (`followers-behind.ts`), and 100,000 `URL`s
   * held at once were 30 MB (issue #17).
   */
  readonly actorIds: readonly string[];
}

/** A delivery inbox, and one of the followers behind it (`FollowerStore.deliveryInboxes()`). */
export interface DeliveryInbox {
  readonly inbox: URL;
  readonly sharedInbox: boolean;
  readonly actorId: string;
}

export interface InboxesOptions {
  readonly actorPrefix?: string;
  /** Delivery inboxes (`InboxGroup.inbox` hrefs). */
  readonly inboxes?: readonly string[];
}

export interface ListFollowersOptions {
  readonly cursor?: string | undefined;
  /** Default 50. */
  readonly limit?: number;
}

export interface FollowerStore {
  /** Adds a follower, or refreshes its inboxes and follow id when it follows again. */
  add(follower: Follower): Promise<void>;
  /** Removes the follower whose follow is `followId`, only if it is `actorId`'s. */
  removeByFollow(followId: URL, actorId: URL): Promise<boolean>;
  /** Removes the follower `actorId` (an `Undo(Follow)` or the actor's own deletion). */
  removeByActor(actorId: URL): Promise<boolean>;
  get(actorId: URL): Promise<Follower | undefined>;
  list(options?: ListFollowersOptions): Promise<FollowerPage>;
  count(): Promise<number>;
  /**
   * Every follower's delivery inbox, followers on the same server grouped by shared inbox;
   * with `actorPrefix`, only the followers whose actor id starts with it (one server's, for a
   * FEP-8fcf synchronization), read from the index rather than from every follower; with
   * `inboxes`, only the groups of those delivery inboxes (a slice of a fan-out), from the index.
   */
  inboxes(options?: InboxesOptions): Promise<readonly InboxGroup[]>;
  /**
   * Every delivery inbox, as `inboxes()` groups them, each with one follower behind it: what a
   * delivery to all followers hands Fedify (`dispatchFollowers()` of `collections.ts`).
   */
  deliveryInboxes(): Promise<readonly DeliveryInbox[]>;
  /**
   * FEP-8fcf's digest (https://w3id.org/fep/8fcf) of the followers on each of `origins` (as
   * `URL.origin`: the servers of their ids), in hex: the XOR of the SHA-256 of each one's id,
   * kept up to date as followers come and go, for the `Collection-Synchronization` header of a
   * delivery there (`deliver-now.ts`). A server with no followers is absent.
   */
  syncDigests(origins: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

export const DEFAULT_PAGE_SIZE = 50;

/**
 * The server a follower is on, as FEP-8fcf names it (`base-url`) and the stores keep its digest
 * by: the origin of its id (not its host, which the interactions' quotas go by); `undefined` for
 * an id that is no URL (none is stored so).
 */
export function followerOrigin(actorId: string | undefined): string | undefined {
  return actorId === undefined ? undefined : URL.parse(actorId)?.origin;
}

/**
 * The `account` of the main account's followers in the stores; a section's followers are
 * stored under the section's id (`SECTIONS`).
 */
export const MAIN_ACCOUNT = "";

/**
 * The followers of several accounts (the main one first, then the sections), seen as one for
 * what concerns a remote actor whatever it follows: `get()` finds it in any account,
 * `removeByActor()` removes it from all (an actor that is gone leaves every account). The rest
 * is the first store's.
 */
export function everyAccount(stores: readonly [FollowerStore, ...FollowerStore[]]): FollowerStore {
  return {
    ...stores[0],
    async get(actorId) {
      for (const store of stores) {
        const follower = await store.get(actorId);
        if (follower !== undefined) return follower;
      }
      return undefined;
    },
    async removeByActor(actorId) {
      let removed = false;
      for (const store of stores) if (await store.removeByActor(actorId)) removed = true;
      return removed;
    },
    async removeByFollow(followId, actorId) {
      let removed = false;
      for (const store of stores) if (await store.removeByFollow(followId, actorId)) removed = true;
      return removed;
    },
  };
}
