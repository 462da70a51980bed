import {
  type DocumentLoader,
  FetchError,
  getDocumentLoader,
  type InboxContext,
} from "@fedify/fedify";
import { createFederation, createInboxContext } from "@fedify/testing";

/** An activity an inbox listener sent, and to whom. */
export interface Sent {
  readonly recipients: unknown;
  readonly activity: unknown;
}

/** Serves `documents` by URL (410: gone), the JSON-LD contexts from Fedify's preloaded copies. */
export function loaderOf(documents: Record<string, unknown>): DocumentLoader {
  const contexts = getDocumentLoader();
  return async (url) => {
    const document = documents[url];
    if (document === 410) throw new FetchError(url, "Gone", new Response(null, { status: 410 }));
    if (document != null) return { contextUrl: null, documentUrl: url, document };
    return await contexts(url);
  };
}

/**
 * The context an inbox listener of the account at https://news.test gets: `documents` to
 * fetch, what it sends recorded in `sent`; `extra` adds to (or replaces) what it offers.
 */
export function inboxContext(
  documents: Record<string, unknown>,
  sent: Sent[] = [],
  extra: Record<string, unknown> = {},
): InboxContext<void> {
  const loader = loaderOf(documents);
  return createInboxContext<void>({
    data: undefined,
    federation: createFederation<void>(),
    url: new URL("https://news.test/"),
    documentLoader: loader,
    contextLoader: loader,
    getActorUri: (identifier: string) => new URL(`/users/${identifier}`, "https://news.test"),
    sendActivity: async (_sender: unknown, recipients: unknown, activity: unknown) => {
      sent.push({ recipients, activity });
    },
    ...extra,
  } as unknown as Parameters<typeof createInboxContext<void>>[0]);
}
