import { DatabaseSync } from "node:sqlite";
import type { InboxContext } from "@fedify/fedify";
import { Accept, Note, Person, PUBLIC_COLLECTION, QuoteRequest, Reject } from "@fedify/vocab";
import { describe, expect, it } from "vitest";
import { openSqliteFollowerStore } from "../../../src/backends/sqlite/followers.ts";
import { openSqliteInteractionStore } from "../../../src/backends/sqlite/interactions.ts";
import { onQuoteRequested, type QuoteDeps } from "../../../src/federation/interactions/quotes.ts";
import type { InteractionStoreOptions } from "../../../src/federation/interactions/store.ts";
import { inboxContext, type Sent } from "../../helpers/inbox-context.ts";

const STORY = new URL("https://news.test/objects/a1");
const ALICE = new URL("https://a.test/users/alice");
const QUOTE = new URL("https://a.test/users/alice/statuses/9");

async function contextFor(sent: Sent[]): Promise<InboxContext<void>> {
  const actor = await new Person({
    id: ALICE,
    preferredUsername: "alice",
    inbox: new URL("https://a.test/users/alice/inbox"),
  }).toJsonLd({ format: "compact" });
  return inboxContext({ [ALICE.href]: actor }, sent, {
    getObjectUri: (_cls: unknown, values: Record<string, string>) =>
      new URL(`/objects/${values.id}/quotes/${values.quote}`, "https://news.test"),
  });
}

function depsWith(options: InteractionStoreOptions = {}): QuoteDeps {
  return {
    store: openSqliteInteractionStore(new DatabaseSync(":memory:"), options),
    articleOf: async (url) => (url.href === STORY.href ? "a1" : undefined),
    followers: openSqliteFollowerStore(new DatabaseSync(":memory:")),
    identifier: "news",
    policy: "public",
  };
}

function request(values: { object?: URL; instrument?: URL | Note } = {}): QuoteRequest {
  return new QuoteRequest({
    id: new URL(`${QUOTE.href}#quote-request`),
    actor: ALICE,
    object: values.object ?? STORY,
    instrument:
      values.instrument ??
      new Note({ id: QUOTE, attribution: ALICE, to: PUBLIC_COLLECTION, content: "Lesen!" }),
  });
}

async function answer(deps: QuoteDeps, quoteRequest: QuoteRequest): Promise<Sent[]> {
  const sent: Sent[] = [];
  await onQuoteRequested(deps)(await contextFor(sent), quoteRequest);
  return sent;
}

describe("onQuoteRequested()", () => {
  it("accepts with the stamp's URL, and keeps the quote with the quoting inbox", async () => {
    const deps = depsWith();
    const [sent] = await answer(deps, request());
    expect(sent?.activity).toBeInstanceOf(Accept);
    const accept = sent?.activity as Accept;
    expect(accept.resultId?.href).toMatch(/^https:\/\/news\.test\/objects\/a1\/quotes\/[\w-]{22}$/);
    expect(sent?.recipients).toMatchObject({ id: ALICE });
    expect(await deps.store.list("a1")).toEqual([
      expect.objectContaining({
        kind: "quote",
        id: QUOTE.href,
        inbox: "https://a.test/users/alice/inbox",
      }),
    ]);
  });

  it("rejects a hidden account's quote, and one the story has no room for", async () => {
    const hidden = depsWith({ hide: [{ domain: "a.test" }] });
    expect((await answer(hidden, request()))[0]?.activity).toBeInstanceOf(Reject);
    const full = depsWith({ maxPerArticle: 0 });
    expect((await answer(full, request()))[0]?.activity).toBeInstanceOf(Reject);
    expect(await full.store.counts("a1")).toMatchObject({ quotes: 0 });
  });

  it("answers nothing for a post not ours, or a quoting post not the requester's", async () => {
    const deps = depsWith();
    expect(await answer(deps, request({ object: new URL("https://b.test/notes/1") }))).toEqual([]);
    const elsewhere = new URL("https://b.test/users/bob/statuses/1");
    expect(await answer(deps, request({ instrument: elsewhere }))).toEqual([]);
    const forged = new Note({ id: QUOTE, attribution: new URL("https://a.test/users/eve") });
    expect(await answer(deps, request({ instrument: forged }))).toEqual([]);
    expect(await deps.store.counts("a1")).toMatchObject({ quotes: 0 });
  });
});
