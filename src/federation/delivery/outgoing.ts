/**
 * How Herald talks to other servers. Every outgoing request of the process (deliveries,
 * actor, key and object fetches, WebFinger, NodeInfo, relays, alias lookups, WebSub pings,
 * migration) goes through Node's `fetch` (the first try of a delivery through undici's
 * `request()`: `first-try.ts`), and so through the global undici dispatcher this module
 * installs, which bounds each request, says who sends it and keeps its errors cheap:
 * - one deadline (`REQUEST_TIMEOUT_SECONDS`) for the whole request, the body included: a
 *   server dripping a byte every few seconds cannot hold an inbox POST (whose key it serves)
 *   or a delivery worker for longer;
 * - a size cap on every answer, counted as the bytes arrive whatever `Content-Length` says:
 *   Herald only ever reads small JSON documents (actors, keys, objects, JRDs, NodeInfo) from
 *   other servers, and Fedify reads them whole with `response.json()`, so a 500 MB key
 *   document would otherwise be held in memory before its signature is even checked;
 * - at most `PER_HOST_CONNECTIONS` requests at once to one origin (first tries: one, over a
 *   dispatcher of their own, `createFirstTryDispatcher()`), and a connection closed once idle
 *   for `IDLE_CONNECTION_MS`;
 * - `User-Agent: Herald/<version> (+<PUBLIC_URL>)`;
 * - no stack traces for the errors made while an answer is read (`readWithoutStackTraces()`).
 *
 * It also answers a request that Fedify makes again after Herald made it (a delivery's first
 * try, `first-try.ts`) with the answer the first one got (`answeringOnce()`).
 *
 * Why the dispatcher and not Fedify's `documentLoaderFactory` hooks: Fedify 2.3.6's loaders
 * (`getDocumentLoader()`, `getAuthenticatedDocumentLoader()` in @fedify/vocab-runtime) take no
 * custom `fetch` and call `response.json()` on the global one, so a wrapping loader could add
 * a deadline but no size cap; deliveries (`sendActivityInternal()`) and WebFinger lookups
 * have no hook at all and send no `User-Agent` (Node's default is `node`). The dispatcher is
 * the one place all of them pass through (read in node_modules/@fedify/vocab-runtime/dist/mod.js,
 * `getRemoteDocument()`, and @fedify/fedify's `sendActivityInternal()`). The size cap and the
 * deadline can move into a document loader once Fedify's loaders take a `fetch` or a limit
 * (no upstream issue tracks it yet), and the `User-Agent` once deliveries and WebFinger
 * lookups send one Herald can choose; until both, the dispatcher stays global.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { Agent, buildConnector, type Dispatcher, setGlobalDispatcher } from "undici";
import packageJson from "../../../package.json" with { type: "json" };
import type { Config } from "../../config.ts";

/** The largest answer Herald reads from another server: JSON documents are a few KiB. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Requests at once to one origin (scheme, host, port); more wait for a free connection.
 * Above the usual handful of deliveries to one big instance, below what would let one
 * hostile host tie up the process.
 */
export const PER_HOST_CONNECTIONS = 8;

/**
 * How long a connection is kept open without a request on it (ms). undici keeps a pool per
 * origin while it has a connection, and each pool holds a 2,048-slot request queue (16 KiB)
 * besides its sockets and parsers. A fan-out talks to each server once, so with undici's
 * default (the server's keep-alive hint less 2 s: 3 s against Node's servers) a fan-out to
 * 10,000 servers kept thousands of idle pools alive at once; at 1 s, still about a thousand
 * (20 MB more live heap than now while it delivers, measured at 10,000 servers). A quarter
 * second still carries the requests of one burst (a story's Create, its relays, its author;
 * the actor, key and object fetches of one incoming activity) over one connection.
 */
export const IDLE_CONNECTION_MS = 250;

export interface OutgoingLimits {
  /** The whole request, from sending it to the last byte of the answer. */
  readonly timeoutMs: number;
  readonly userAgent: string;
  /** Default `MAX_RESPONSE_BYTES`. */
  readonly maxResponseBytes?: number;
  /** Default `PER_HOST_CONNECTIONS`. */
  readonly perHost?: number;
}

/** `Herald/0.1.0 (+https://news.example)`: what Herald is, and where to find who runs it. */
export function heraldUserAgent(publicUrl: URL): string {
  return `Herald/${packageJson.version} (+${publicUrl.origin})`;
}

/** The limits of every outgoing request (see above), from the configuration. */
export function outgoingLimits(
  config: Pick<Config, "requestTimeoutSeconds" | "publicUrl">,
): OutgoingLimits {
  return {
    timeoutMs: config.requestTimeoutSeconds * 1000,
    userAgent: heraldUserAgent(config.publicUrl),
  };
}

/** Bounds every outgoing request of this process (see above), from the configuration. */
export function limitOutgoingRequests(
  config: Pick<Config, "requestTimeoutSeconds" | "publicUrl">,
): void {
  setGlobalDispatcher(createOutgoingDispatcher(outgoingLimits(config)));
}

/**
 * The dispatcher of deliveries' first tries (`first-try.ts`): the same limits, one connection
 * per server. A fan-out sends one request to each server, and undici keeps a `Pool` (with its
 * 2,048-slot request queue, 16 KiB) for each origin allowed several connections, alive as long
 * as its idle connection: thousands of them outlived V8's young generation in a fan-out and were
 * promoted to the old one, a third of all it promoted (measured with `--trace-gc-nvp` during
 * `bench/fanout.ts`: 286 MB → 186 MB promoted in 200 scavenges, 27 → 18 full collections). With
 * one connection per origin undici keeps a bare `Client`.
 */
export function createFirstTryDispatcher(limits: OutgoingLimits): Dispatcher {
  return createOutgoingDispatcher({ ...limits, perHost: 1 });
}

/**
 * Runs a function in the context this module was loaded in, where no `AsyncLocalStorage`
 * holds anything. A socket keeps the context it was opened in for as long as it lives, and a
 * kept-alive connection outlives the request that opened it: opened inside a delivery, it
 * held that delivery's message (its activity, its keys) until it closed, a thousand of them
 * at once in a fan-out.
 */
const outsideAnyRequest = AsyncLocalStorage.snapshot();

export function createOutgoingDispatcher(limits: OutgoingLimits): Dispatcher {
  // undici's own timeouts are per phase (connect, headers, between body chunks); the deadline
  // of `BoundedHandler` covers them all at once.
  const connect = buildConnector({});
  const agent = new Agent({
    connections: limits.perHost ?? PER_HOST_CONNECTIONS,
    keepAliveTimeout: IDLE_CONNECTION_MS,
    keepAliveMaxTimeout: IDLE_CONNECTION_MS,
    connect: (options, callback) =>
      outsideAnyRequest(() =>
        connect(options, (...answer: Parameters<buildConnector.Callback>) => {
          if (answer[0] === null) readWithoutStackTraces(answer[1]);
          callback(...answer);
        }),
      ),
  });
  return agent.compose(
    (dispatch) => (options, handler) =>
      answerFromRecording(options, handler) ||
      dispatch(
        {
          ...options,
          headers: withHeaders(options.headers, {
            "user-agent": limits.userAgent,
            // A compressed answer is counted before `fetch` inflates it: 1 MiB of gzip can be
            // a gigabyte of JSON. Ask for none, and refuse one that comes compressed anyway.
            "accept-encoding": "identity",
          }),
        },
        new BoundedHandler(handler, limits, `${options.origin ?? ""}${options.path}`),
      ),
  );
}

/**
 * undici ends each connection that will not be reused, once the answer is in, by destroying its
 * socket with an `InformationalError("reset")` (`onMessageComplete()` in undici's
 * lib/dispatcher/client-h1.js), and Node's `destroy()` reads the error's `stack` at once: a stack
 * trace captured and formatted for every delivery of a fan-out, which goes over a connection of
 * its own (`reset: true` in `first-try.ts`). Measured with undici alone, 1,000 POSTs to loopback
 * servers in another process: 50-60 µs of CPU per request of about 320 µs. So while undici reads
 * a socket (its `readable` event, where it parses answers and hands them on) errors are made
 * without stack traces: what they say of the other server is in their message and code, and
 * a stack would only list undici's parser. Everything else keeps its stack traces.
 */
function readWithoutStackTraces(socket: Socket): void {
  const emit = socket.emit;
  // `arguments` passed on as they are: a socket emits a dozen events per request, and copying
  // them into arrays would add about a kilobyte of garbage to each delivery.
  socket.emit = function (this: Socket, event: string | symbol): boolean {
    // biome-ignore lint/complexity/noArguments: see above
    if (event !== "readable") return Reflect.apply(emit, this, arguments);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      // biome-ignore lint/complexity/noArguments: see above
      return Reflect.apply(emit, this, arguments);
    } finally {
      Error.stackTraceLimit = limit;
    }
  } as Socket["emit"];
}

/** What a request got: an answer (its body read whole), or the error that ended it. */
export type RecordedAnswer =
  | {
      readonly status: number;
      readonly statusText: string;
      readonly headers: IncomingHttpHeaders;
      readonly body: Buffer;
    }
  | { readonly error: Error };

interface Recording {
  readonly method: string;
  readonly url: string;
  readonly answer: RecordedAnswer;
  used: boolean;
}

const recordings = new AsyncLocalStorage<Recording>();

/**
 * Runs `fn`, whose first `method` request to `url` (through this process's dispatcher) gets
 * `answer` without going out; any later one goes out as usual. For a request already made once
 * (a delivery's first try, `first-try.ts`) that Fedify makes again to handle its outcome: the
 * server sees it once.
 */
export function answeringOnce<T>(
  method: string,
  url: URL,
  answer: RecordedAnswer,
  fn: () => Promise<T>,
): Promise<T> {
  return recordings.run({ method, url: url.href, answer, used: false }, fn);
}

/** Answers the request from the recording of `answeringOnce()` if it is the one; else false. */
function answerFromRecording(
  options: Dispatcher.DispatchOptions,
  handler: Dispatcher.DispatchHandler,
): boolean {
  const recording = recordings.getStore();
  if (recording === undefined || recording.used || options.method !== recording.method) {
    return false;
  }
  if (options.origin == null || new URL(options.path, options.origin).href !== recording.url) {
    return false;
  }
  recording.used = true;
  const { answer } = recording;
  let aborted: Error | undefined;
  const controller: Dispatcher.DispatchController = {
    get aborted() {
      return aborted !== undefined;
    },
    get paused() {
      return false;
    },
    get reason() {
      return aborted ?? null;
    },
    abort(reason) {
      aborted = reason;
    },
    pause() {},
    resume() {},
  };
  const fail = (error: Error) => handler.onResponseError?.(controller, error);
  queueMicrotask(() => {
    handler.onRequestStart?.(controller, {});
    if (aborted !== undefined) return fail(aborted);
    if ("error" in answer) return fail(answer.error);
    handler.onResponseStart?.(controller, answer.status, answer.headers, answer.statusText);
    if (aborted === undefined) handler.onResponseData?.(controller, answer.body);
    if (aborted !== undefined) return fail(aborted);
    handler.onResponseEnd?.(controller, {});
  });
  return true;
}

/** Why an outgoing request was cut short. */
export class OutgoingLimitError extends Error {
  override name = "OutgoingLimitError";
}

/**
 * Passes a response through, failing it once it runs past the deadline or the size cap.
 * The deadline starts when the request is handed to the dispatcher; a request still
 * waiting for a connection when it passes is failed as soon as it gets one.
 */
class BoundedHandler implements Dispatcher.DispatchHandler {
  readonly #next: Dispatcher.DispatchHandler;
  readonly #url: string;
  readonly #maxBytes: number;
  readonly #timer: NodeJS.Timeout;
  #controller: Dispatcher.DispatchController | undefined;
  #expired: Error | undefined;
  #received = 0;

  constructor(next: Dispatcher.DispatchHandler, limits: OutgoingLimits, url: string) {
    this.#next = next;
    this.#url = url;
    this.#maxBytes = limits.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.#timer = setTimeout(() => {
      this.#fail(`took longer than ${limits.timeoutMs / 1000} s`);
    }, limits.timeoutMs);
    this.#timer.unref();
  }

  #fail(reason: string): void {
    const error = new OutgoingLimitError(`Request to ${this.#url} ${reason}.`);
    if (this.#controller === undefined) this.#expired = error;
    else this.#controller.abort(error);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#controller = controller;
    this.#next.onRequestStart?.(controller, context);
    if (this.#expired !== undefined) controller.abort(this.#expired);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Dispatcher.DispatchHandler["onRequestUpgrade"]>>[2],
    socket: Parameters<NonNullable<Dispatcher.DispatchHandler["onRequestUpgrade"]>>[3],
  ): void {
    clearTimeout(this.#timer);
    this.#next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    const length = Number(headers["content-length"]);
    const encoding = headers["content-encoding"];
    if (length > this.#maxBytes) {
      this.#fail(`answered ${length} bytes, over the cap`);
    } else if (encoding !== undefined && encoding !== "identity") {
      this.#fail(`answered compressed (${String(encoding)}) although asked not to`);
    } else {
      this.#next.onResponseStart?.(controller, statusCode, headers, statusMessage);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#received += chunk.length;
    if (this.#received > this.#maxBytes) this.#fail(`answered more than ${this.#maxBytes} bytes`);
    else this.#next.onResponseData?.(controller, chunk);
  }

  onResponseEnd(
    controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    clearTimeout(this.#timer);
    this.#next.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    clearTimeout(this.#timer);
    this.#next.onResponseError?.(controller, error);
  }
}

/** `headers` (any form undici takes) with `overrides` replacing same-named ones. */
function withHeaders(
  headers: Dispatcher.DispatchOptions["headers"],
  overrides: Record<string, string>,
): Record<string, string | string[]> {
  const merged: Record<string, string | string[]> = {};
  const add = (name: string, value: string | string[] | undefined) => {
    if (value !== undefined && !(name.toLowerCase() in overrides)) merged[name] = value;
  };
  if (Array.isArray(headers)) {
    // A flat list: name, value, name, value…
    for (let i = 0; i + 1 < headers.length; i += 2) add(String(headers[i]), String(headers[i + 1]));
  } else if (headers != null && Symbol.iterator in headers) {
    for (const [name, value] of headers as Iterable<[string, string | string[] | undefined]>) {
      add(name, value);
    }
  } else if (headers != null) {
    for (const [name, value] of Object.entries(headers)) add(name, value);
  }
  return { ...merged, ...overrides };
}
