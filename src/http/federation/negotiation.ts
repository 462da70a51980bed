/**
 * One URL, two audiences: browsers get HTML pages, fediverse servers get ActivityStreams.
 * Articles have a page (`paths.article(slug)`) and an object (`paths.object(id)`); each
 * URL sends the other audience to the other URL, and every answer carries `Vary: Accept`
 * so caches keep the two apart.
 */
import type { Federation } from "@fedify/fedify";
import { type Request, type Response, Router } from "express";
import type { Article } from "../../article.ts";
import type { PublishedArticles } from "../../federation/articles.ts";
import {
  DEFAULT_POST_TYPE,
  objectContextOf,
  objectId,
  type PostType,
  toTombstone,
} from "../../federation/objects.ts";
import { absolute, paths } from "../../urls.ts";

export interface NegotiationDeps {
  readonly federation: Federation<void>;
  readonly store: PublishedArticles;
}

export interface NegotiationOptions {
  readonly origin: URL;
  /** Default `news`. */
  readonly username: string;
  /** Default `article`. */
  readonly postType?: PostType;
  /** `TIME_ZONE`, for the dates of correction notices; default UTC. */
  readonly timeZone?: string;
  /** `profile.url` is where a browser asking for the actor goes; default the home page. */
  readonly profile?: { readonly url?: URL };
  /** The section accounts' ids (`SECTIONS`): a browser asking for one goes to its page. */
  readonly sectionIds?: readonly string[];
}

const ACTIVITY_JSON = "application/activity+json";

/**
 * Express routes, mounted before Fedify:
 * - `GET /objects/:id`: a browser is redirected (303) to the article's page; a deleted
 *   article answers 410 with a `Tombstone` (Fedify's object dispatchers cannot);
 *   fediverse requests for published articles go on to Fedify.
 * - `GET /articles/:slug`: `Vary: Accept`; fediverse requests are redirected to the
 *   object (or get the `Tombstone`); browsers go on to the app's page.
 * - `GET /users/:identifier`: a browser is redirected to the profile (home) page, or for a
 *   section's account to the section's page.
 */
export function negotiateFederation(deps: NegotiationDeps, options: NegotiationOptions): Router {
  const { federation, store } = deps;
  const { username } = options;
  const postType = options.postType ?? DEFAULT_POST_TYPE;
  const context = () => federation.createContext(options.origin, undefined);
  const objects = () => objectContextOf(context(), username, postType, options.timeZone);
  const sendTombstone = async (res: Response, article: Article): Promise<void> => {
    const ctx = context();
    const tombstone = toTombstone(
      article,
      objectContextOf(ctx, username, postType, options.timeZone),
    );
    const json = await tombstone.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
    res.status(410).set("Content-Type", ACTIVITY_JSON).send(JSON.stringify(json));
  };
  const router = Router();

  router.get(expressPath(paths.object(":id")), async (req, res, next) => {
    res.vary("Accept");
    const record = await store.findById(String(req.params.id));
    if (record == null || record.state === "draft" || record.state === "scheduled") return next();
    if (record.state === "deleted") {
      if (acceptsActivityPub(req)) return await sendTombstone(res, record.article);
      return void res.status(410).type("text/plain").send("Gone.\n");
    }
    if (acceptsActivityPub(req)) return next();
    res.redirect(303, absolute(options.origin, paths.article(record.article.slug)).href);
  });

  router.get(expressPath(paths.article(":slug")), async (req, res, next) => {
    res.vary("Accept");
    if (!acceptsActivityPub(req)) return next();
    const record = await store.findBySlug(String(req.params.slug));
    if (record?.state === "published") {
      return res.redirect(303, objectId(record.article.id, objects()).href);
    }
    if (record?.state === "deleted") return await sendTombstone(res, record.article);
    next();
  });

  router.get("/users/:identifier", (req, res, next) => {
    const { identifier } = req.params;
    const section = options.sectionIds?.includes(identifier) === true;
    if ((identifier !== username && !section) || acceptsActivityPub(req)) return next();
    res.vary("Accept");
    const page = section
      ? absolute(options.origin, paths.section(identifier))
      : (options.profile?.url ?? absolute(options.origin, paths.home));
    res.redirect(303, page.href);
  });

  return router;
}

/** `paths.article(":slug")` is `/articles/%3Aslug`: undo the encoding of the placeholder. */
function expressPath(path: string): string {
  return path.replace(/%3A/gi, ":");
}

/**
 * Fedify's own test (`acceptsJsonLd`), so both agree on who is a fediverse client: the
 * most preferred type is not HTML, and an ActivityStreams or JSON type is acceptable.
 */
export function acceptsActivityPub(req: Pick<Request, "headers">): boolean {
  const accept = req.headers.accept;
  const types = accept == null || accept === "" ? ["*/*"] : preferredMediaTypes(accept);
  if (types[0] === "text/html" || types[0] === "application/xhtml+xml") return false;
  return (
    types.includes(ACTIVITY_JSON) ||
    types.includes("application/ld+json") ||
    types.includes("application/json")
  );
}

interface MediaRange {
  readonly type: string;
  readonly q: number;
  readonly index: number;
}

function preferredMediaTypes(accept: string): string[] {
  const ranges: MediaRange[] = [];
  for (const [index, part] of accept.split(",").entries()) {
    const match = /^\s*([^\s/;]+)\/([^;\s]+)\s*(?:;(.*))?$/.exec(part.trim());
    if (match?.[1] == null || match[2] == null) continue;
    let q = 1;
    for (const parameter of (match[3] ?? "").split(";")) {
      const [key, value] = parameter.trim().split("=");
      if (key?.toLowerCase() === "q" && value) {
        q = Number.parseFloat(value.replace(/^"|"$/g, ""));
        break;
      }
    }
    ranges.push({ type: `${match[1]}/${match[2]}`, q, index });
  }
  return ranges
    .filter((range) => range.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((range) => range.type);
}
