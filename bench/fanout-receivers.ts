/**
 * One process of `bench/fanout.ts`'s follower servers: `BENCH_RECEIVER_HOSTS` fake Mastodon-like
 * servers (tests/helpers/fake-remote.ts, each verifying every signature) on distinct ports of
 * `BENCH_RECEIVER_ADDRESS`, each hosting `BENCH_RECEIVER_USERS` users. Several such processes
 * share the servers out: one process cannot hold the sockets of 10,000 servers (the file
 * descriptor limit is 20,000) and the parent stays free to time.
 *
 * It answers the parent over IPC (messages below); times are `performance.timeOrigin +
 * performance.now()`, comparable across the bench's processes.
 */
import {
  type FakeRemote,
  type JsonObject,
  startFakeRemotes,
} from "../tests/helpers/fake-remote.ts";

/** An activity the parent waits for or counts: its type, and its object's name or id. */
export interface Wanted {
  readonly type: string;
  readonly name?: string;
  readonly objectId?: string;
  /** The sender's origin: only activities its key signed count. */
  readonly signer: string;
}

export type ToReceivers =
  | { readonly cmd: "wait"; readonly id: number; readonly wanted: Wanted }
  | { readonly cmd: "count"; readonly id: number; readonly wanted: Wanted }
  | { readonly cmd: "close"; readonly id: number };

export type FromReceivers =
  | { readonly kind: "ready"; readonly hosts: readonly ReceiverHost[] }
  | {
      readonly kind: "waited";
      readonly id: number;
      readonly at: number;
      readonly objectId: string;
      /** The activity as it arrived (the body of one server's request). */
      readonly body: string;
    }
  | { readonly kind: "counted"; readonly id: number; readonly counts: readonly number[] }
  | { readonly kind: "closed"; readonly id: number }
  | { readonly kind: "failed"; readonly id: number; readonly error: string };

export interface ReceiverHost {
  readonly sharedInbox: string;
  /** Its users' actor ids and personal inboxes. */
  readonly users: readonly { readonly id: string; readonly inbox: string }[];
}

export const now = (): number => performance.timeOrigin + performance.now();

/** Whether `request` (as a fake remote logged it) is a verified `wanted`. */
export function matches(activity: JsonObject, signer: URL | undefined, wanted: Wanted): boolean {
  if (activity.type !== wanted.type || signer?.origin !== wanted.signer) return false;
  const object = activity.object;
  if (typeof object === "string") return object === wanted.objectId;
  if (typeof object !== "object" || object === null || Array.isArray(object)) return false;
  const fields = object as JsonObject;
  if (wanted.objectId !== undefined) return fields.id === wanted.objectId;
  return wanted.name !== undefined && fields.name === wanted.name;
}

async function main(): Promise<void> {
  const count = Number(process.env.BENCH_RECEIVER_HOSTS);
  const address = process.env.BENCH_RECEIVER_ADDRESS ?? "127.0.0.1";
  const userCount = Number(process.env.BENCH_RECEIVER_USERS ?? 1);
  const users = Array.from({ length: userCount }, (_, i) => (i === 0 ? "alice" : `user${i}`));
  const remotes = await startFakeRemotes(count, { address, users });
  const send = (message: FromReceivers) => process.send?.(message);
  send({
    kind: "ready",
    hosts: remotes.map((remote) => ({
      sharedInbox: remote.sharedInbox.href,
      users: users.map((user) => ({
        id: remote.actorUrl(user).href,
        inbox: remote.inboxUrl(user).href,
      })),
    })),
  });
  process.on("message", (message: ToReceivers) => {
    answer(remotes, message).then(send, (error: unknown) =>
      send({ kind: "failed", id: message.id, error: String(error) }),
    );
  });
}

async function answer(
  remotes: readonly FakeRemote[],
  message: ToReceivers,
): Promise<FromReceivers> {
  switch (message.cmd) {
    case "wait": {
      let objectId = "";
      let body = "";
      await Promise.all(
        remotes.map(async (remote) => {
          const got = await remote.waitFor(
            (activity, request) => matches(activity, request.signer, message.wanted),
            { timeoutMs: 600_000 },
          );
          const object = got.activity?.object as JsonObject | string | undefined;
          objectId = typeof object === "string" ? object : String(object?.id ?? "");
          body = got.rawBody;
        }),
      );
      return { kind: "waited", id: message.id, at: now(), objectId, body };
    }
    case "count": {
      const counts = remotes.map(
        (remote) =>
          remote.received(
            (r) =>
              r.verified &&
              r.activity !== undefined &&
              matches(r.activity, r.signer, message.wanted),
          ).length,
      );
      return { kind: "counted", id: message.id, counts };
    }
    case "close":
      await Promise.all(remotes.map((remote) => remote.close()));
      setImmediate(() => process.exit(0));
      return { kind: "closed", id: message.id };
    default:
      return message satisfies never;
  }
}

if (process.env.BENCH_RECEIVER_HOSTS !== undefined) await main();
