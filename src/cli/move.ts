/**
 * `npm run move -- @new@host [--dry-run]`: moves the account to another one, as Mastodon's
 * "Move to a different account" does. Checks that the new account lists this one in its
 * `alsoKnownAs`, records `movedTo` (which the running service serves from then on), and
 * queues a `Move` and an actor `Update` for every follower; the service's delivery workers
 * deliver them, with retries, whether they run now or at the next start.
 * Exit code 0 when done (or, with `--dry-run`, when the move would be accepted), 1 when the
 * new account is not ready, 2 on a configuration problem.
 */
import { type Backends, openBackends } from "../backends/open.ts";
import type { Config } from "../config.ts";
import { configOrExit } from "../env.ts";
import { type Account, openAccount } from "../federation/account.ts";
import { limitOutgoingRequests } from "../federation/delivery/outgoing.ts";
import { accountActor } from "../federation/federation.ts";
import { KEYS_CREATED_KEY } from "../federation/keys.ts";
import { checkMoveTarget, readMovedTo, saveMovedTo, toMove } from "../federation/migration.ts";
import { announceProfileChange } from "../federation/profile-update.ts";
import { configureLogging } from "../logging.ts";

const usage = "Usage: npm run move -- @new@host [--dry-run]";

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const dryRun = args.includes("--dry-run") || args.includes("--check");
  const targets = args.filter((arg) => !arg.startsWith("--"));
  if (targets.length !== 1 || targets[0] === undefined) {
    console.error(usage);
    return 2;
  }
  const target = targets[0];
  const config = configOrExit({ checkFolders: true });
  limitOutgoingRequests(config);
  await configureLogging("warning", config.logFormat);
  const backends = await openBackends(config);
  try {
    if ((await backends.kv.get(KEYS_CREATED_KEY)) == null) {
      console.error(
        "There is no account to move yet: start Herald once (npm start) with this configuration.",
      );
      return 2;
    }
    return await move(await openAccount(config, backends), backends, config, target, dryRun);
  } finally {
    await backends.close();
  }
}

async function move(
  account: Account,
  { kv, followers: followerStore }: Pick<Backends, "kv" | "followers">,
  config: Config,
  target: string,
  dryRun: boolean,
): Promise<number> {
  const { federation } = account;
  const ctx = federation.createContext(config.publicUrl);
  const self = ctx.getActorUri(config.accountUsername);
  console.log(`Moving ${self.href} to ${target}${dryRun ? " (dry run)" : ""}.`);
  const check = await checkMoveTarget(ctx, self, target, {
    allowPrivateAddress: config.allowPrivateAddress,
    timeoutMs: config.requestTimeoutSeconds * 1000,
  });
  if (!check.ok) {
    console.error(`Not moved: ${check.reason}`);
    return 1;
  }
  console.log(`ok    ${check.target.href} lists this account in its alsoKnownAs.`);
  const followers = await followerStore.count();
  const before = await readMovedTo(kv);
  if (before != null && before.href !== check.target.href) {
    console.log(
      `note  This account had moved to ${before.href} before; it now points to the new one.`,
    );
  }
  if (dryRun) {
    console.log(
      `\nReady to move: ${count(followers, "follower")} would be asked to follow ${check.target.href}.`,
    );
    return 0;
  }
  await saveMovedTo(kv, check.target);
  console.log(`ok    The actor document now says movedTo: ${check.target.href}.`);
  await ctx.sendActivity(
    { identifier: config.accountUsername },
    "followers",
    toMove(ctx, config.accountUsername, check.target),
    { preferSharedInbox: true },
  );
  console.log(`ok    Queued a Move for ${count(followers, "follower")}.`);
  // The profile changed (movedTo): an Update now, and none again at the next start.
  await announceProfileChange(
    ctx,
    kv,
    config.accountUsername,
    await accountActor(ctx, account.options, { kv, keys: account.keys }),
  );
  console.log(`ok    Queued an Update of the profile.`);
  console.log(
    `\nMoved. The running Herald delivers the Move (retrying for days when a server is down); ` +
      `Mastodon servers then have each follower follow ${check.target.href}. ` +
      `Check the deliveries with npm run doctor. Herald keeps publishing here; stop it once the new account has taken over.`,
  );
  return 0;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

process.exitCode = await main();
