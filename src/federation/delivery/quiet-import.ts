/**
 * Which created articles are not pushed as news (see `QuietImportOptions`): those of the
 * store's first scan (an import), and those dated long before they were found. The main
 * account's publisher and the sections' (`federation/sections/publisher.ts`) decide alike.
 */
import type { ChangeEvent } from "../../article.ts";

export interface QuietRule {
  /** When the store's first scan was, if its articles count as an import. */
  readonly importScanAt: number | undefined;
  readonly maxAgeMs: number;
}

/** Why `event` is not pushed, or undefined when it is. */
export function quietReason(
  event: ChangeEvent,
  rule: QuietRule,
): "import" | "backdated" | undefined {
  if (event.type !== "created") return undefined;
  if (rule.importScanAt != null && event.at.getTime() <= rule.importScanAt) return "import";
  if (event.at.getTime() - event.article.published.getTime() > rule.maxAgeMs) return "backdated";
  return undefined;
}
