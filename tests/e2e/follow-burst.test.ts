import { describe, expect, it, onTestFinished } from "vitest";
import {
  AS_CONTEXT,
  type FakeRemote,
  type JsonObject,
  startFakeRemotes,
} from "../helpers/fake-remote.ts";
import { heraldFolders, startHerald } from "../helpers/herald-process.ts";

const HOSTS = 20;
const USERS_PER_HOST = 10;

const objectIdOf = (activity: JsonObject | undefined): string | undefined => {
  const object = activity?.object;
  if (typeof object === "string") return object;
  return typeof object === "object" && object !== null && !Array.isArray(object)
    ? String((object as JsonObject).id)
    : undefined;
};

describe("a burst of follows", () => {
  it("accepts 200 follows from 20 servers at once, each exactly once, also when they are sent again", async () => {
    const herald = await startHerald(heraldFolders());
    const users = Array.from({ length: USERS_PER_HOST }, (_, i) => `user${i}`);
    const remotes = await startFakeRemotes(HOSTS, { users });
    onTestFinished(() => Promise.all(remotes.map((remote) => remote.close())).then(() => {}));
    const actor = new URL("/users/news", herald.origin);
    const inbox = new URL("/users/news/inbox", herald.origin);

    const follows: { remote: FakeRemote; user: string; id: string }[] = [];
    // All servers at once; each server's accounts one after the other, as a server delivers.
    await Promise.all(
      remotes.map(async (remote) => {
        for (const user of remote.users) {
          follows.push({ remote, user, id: (await remote.follow(user, actor)).href });
        }
      }),
    );
    // Servers retry what they are not sure arrived: every Follow once more, all at once.
    await Promise.all(
      follows.map(async ({ remote, user, id }) => {
        const again = {
          "@context": AS_CONTEXT,
          id,
          type: "Follow",
          actor: remote.actorUrl(user).href,
          object: actor.href,
        };
        expect((await remote.post(user, inbox, again)).status).toBeLessThan(300);
      }),
    );
    await Promise.all(
      follows.map(({ remote, id }) =>
        remote.waitFor((a) => a.type === "Accept" && objectIdOf(a) === id, { timeoutMs: 60_000 }),
      ),
    );

    const response = await fetch(new URL("/users/news/followers", herald.origin), {
      headers: { Accept: "application/activity+json" },
    });
    expect(((await response.json()) as { totalItems: number }).totalItems).toBe(
      HOSTS * USERS_PER_HOST,
    );
    // However often a Follow came, its Accepts carry one id, so the follower's server keeps one.
    for (const { remote, id } of follows) {
      const accepts = remote.received(
        (r) => r.type === "Accept" && r.verified && objectIdOf(r.activity) === id,
      );
      expect(new Set(accepts.map((r) => r.activity?.id)).size, id).toBe(1);
    }
  }, 120_000);
});
