/**
 * The doctor's line about the review queue (`REPLIES=review`): how many replies wait for an
 * editor, read from the interaction store where the configuration puts it.
 */
import type { Backends } from "../backends/open.ts";
import type { Config } from "../config.ts";
import { type Check, fail, ok, warn } from "./doctor-public.ts";

export async function replyChecks(backends: Backends, config: Config): Promise<Check[]> {
  try {
    const held = await (await backends.openInteractions({})).countHeld();
    const mode = `REPLIES=${config.replies}`;
    if (held > 0) {
      const wait = held === 1 ? "1 reply waits" : `${held} replies wait`;
      return [warn("Replies", `${wait} for review (${mode}): npm run replies`)];
    }
    return [ok("Replies", `none wait for review (${mode})`)];
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return [fail("Replies", `the review queue cannot be read: ${why}`)];
  }
}
