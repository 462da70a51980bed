/**
 * The delivery side of a process whose role delivers: Fedify's queue listeners, and the relay
 * subscriptions kept in step with `RELAYS`.
 */
import { getLogger } from "@logtape/logtape";
import type { Backends } from "../../backends/open.ts";
import type { Config } from "../../config.ts";
import type { Account } from "../account.ts";
import { syncRelays } from "../relays.ts";
import { digestInline, signInThreadPool } from "./crypto-shortcuts.ts";
import { reuseImportedPrivateKeys } from "./key-reuse.ts";

const logger = getLogger(["herald", "federation"]);

/** How often relays that have not accepted yet are asked again. */
const RELAY_RETRY_MS = 60 * 60 * 1000;

export interface Delivery {
  /** Stops the listeners and the relay subscriptions; resolves once they have ended. */
  stop(): Promise<void>;
}

export async function startDelivery(
  config: Config,
  account: Account,
  backends: Pick<Backends, "kv" | "followers">,
): Promise<Delivery> {
  const { federation } = account;
  const stopping = new AbortController();
  await reuseImportedPrivateKeys([account.keys.rsa.privateKey, account.keys.ed25519.privateKey]);
  signInThreadPool([account.keys.rsa.privateKey]);
  digestInline();
  const delivering = federation.startQueue(undefined, { signal: stopping.signal });
  // Subscribing waits for each relay's actor document: in the background, where deliveries run;
  // again every hour, for a relay that could not be reached or has not answered yet.
  const syncAllRelays = () =>
    syncRelays(
      federation.createContext(config.publicUrl),
      {
        kv: backends.kv,
        followers: backends.followers,
        identifier: config.accountUsername,
        signal: stopping.signal,
      },
      config.relays,
    ).catch((error: unknown) => logger.error("Relay subscriptions failed: {error}", { error }));
  let relaysSynced = syncAllRelays();
  const relayTimer =
    config.relays.length > 0
      ? setInterval(() => {
          relaysSynced = relaysSynced.then(syncAllRelays);
        }, RELAY_RETRY_MS)
      : undefined;
  relayTimer?.unref();
  return {
    async stop() {
      clearInterval(relayTimer);
      stopping.abort();
      await relaysSynced;
      await delivering;
    },
  };
}
