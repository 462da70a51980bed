/**
 * The doctor's checks of the section accounts (`SECTIONS`): each resolves as Mastodon looks it
 * up (WebFinger, then the actor document, with its own key), and its key files are there.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { sectionKeysDir } from "../federation/sections/accounts.ts";
import { type Check, fail, type Get, ok } from "./doctor-public.ts";

const ACTIVITY_JSON = "application/activity+json";

export async function sectionChecks(
  origin: URL,
  config: Config,
  get: Get,
  mainKey: string | undefined,
): Promise<Check[]> {
  const checks: Check[] = [];
  for (const section of config.sections) {
    const what = `Section @${section.id}@${origin.host}`;
    const problem = await sectionProblem(origin, section.id, get, mainKey);
    const keys = sectionKeysDir(config.keysDir, section.id);
    const keyFiles =
      existsSync(join(keys, "rsa.jwk.json")) && existsSync(join(keys, "ed25519.jwk.json"));
    if (typeof problem === "string") checks.push(fail(what, problem));
    else if (!keyFiles) checks.push(fail(what, `its key files are missing from ${keys}`));
    else
      checks.push(
        ok(
          what,
          `resolves to ${problem.self}: "${problem.name}" with inbox, followers and its own key`,
        ),
      );
  }
  return checks;
}

/** What is wrong with the section's WebFinger answer or actor, or what they say when nothing is. */
async function sectionProblem(
  origin: URL,
  id: string,
  get: Get,
  mainKey: string | undefined,
): Promise<string | { self: string; name: string }> {
  const resource = `acct:${id}@${origin.host}`;
  const finger = await get(
    new URL(`/.well-known/webfinger?resource=${encodeURIComponent(resource)}`, origin),
    "application/jrd+json",
  ).catch(() => undefined);
  const jrd = finger?.ok
    ? ((await finger.json()) as { links?: { rel: string; type?: string; href?: string }[] })
    : undefined;
  const self = jrd?.links?.find((l) => l.rel === "self" && l.type === ACTIVITY_JSON)?.href;
  if (!self)
    return `WebFinger for ${resource} answered ${finger?.status ?? "nothing"} without a self link`;
  const response = await get(self, ACTIVITY_JSON).catch(() => undefined);
  if (!response?.ok) return `GET ${self} answered ${response?.status ?? "nothing"}`;
  const actor = (await response.json()) as Record<string, unknown>;
  const key = (actor.publicKey as { publicKeyPem?: string } | undefined)?.publicKeyPem;
  const missing = [
    ["inbox", actor.inbox],
    ["followers", actor.followers],
    ["publicKey", key],
  ].flatMap(([name, value]) => (value ? [] : [name]));
  if (actor.id !== self) return `the actor's id ${String(actor.id)} is not ${self}`;
  if (missing.length > 0) return `its actor lacks ${missing.join(", ")}`;
  if (key === mainKey) return "it signs with the main account's key, not its own";
  return { self, name: String(actor.name ?? id) };
}
