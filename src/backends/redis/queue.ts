import type {
  MessageQueue,
  MessageQueueDepth,
  MessageQueueEnqueueOptions,
  MessageQueueListenOptions,
} from "@fedify/fedify";
import { getLogger } from "@logtape/logtape";
import type { Redis } from "ioredis";
import { toMilliseconds } from "../duration.ts";
import {
  encodeMessage,
  type Lease,
  type LeaseOptions,
  type LeaseSource,
  type ListenSettings,
  listenSettings,
  listenWithLeases,
  type QueueDepth,
  Sleepers,
} from "../lease-listener.ts";
import { redisScript } from "./script.ts";

const logger = getLogger(["herald", "federation", "queue"]);

export interface RedisMessageQueueOptions extends LeaseOptions {
  /** Put before every key of the queue, to share a Redis database. `"herald:queue:"` by default. */
  readonly keyPrefix?: string;
}

/** A claim: the `due` member leased (the message id, or its ordering key's marker). */
interface RedisLease extends Lease {
  readonly member: string;
}

// Keys, after the prefix P (every script gets P as ARGV[1]):
//   seq    counter for message ids (zero-padded, so they sort as text)
//   msg    hash: id -> message JSON          n     hash: id -> times handed out
//   all    zset: id -> due time (for counting only)
//   okey   hash: id -> ordering key          q:KEY zset: the key's ids -> due time
//   due    zset of what may be claimed: ids without a key, and one marker per ordering key
//          ("k" + key), scored by the due time of the key's first message. A claimed member
//          is re-scored to its lease deadline, so it comes back by itself if its listener dies.
//   lease  zset: claimed member -> lease deadline      tok   hash: claimed member -> token
//   wake   pub/sub channel: something may be claimable now
// Times are milliseconds on the server's clock (TIME), the same for every client.
const common = `
local P = ARGV[1]
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(x) return string.format('%d', x) end
`;

// ARGV: P, delay ms, keyed ('1'/'0'), ordering key, messages...
const enqueueScript = redisScript(`${common}
local t = now()
local at = ms(t + tonumber(ARGV[2]))
local keyed = ARGV[3] == '1'
local queue = P .. 'q:' .. ARGV[4]
for i = 5, #ARGV do
  local id = string.format('%015d', redis.call('INCR', P .. 'seq'))
  redis.call('HSET', P .. 'msg', id, ARGV[i])
  redis.call('ZADD', P .. 'all', at, id)
  if keyed then
    redis.call('HSET', P .. 'okey', id, ARGV[4])
    redis.call('ZADD', queue, at, id)
  else
    redis.call('ZADD', P .. 'due', at, id)
  end
end
if keyed then
  local marker = 'k' .. ARGV[4]
  local deadline = tonumber(redis.call('ZSCORE', P .. 'lease', marker) or '0')
  -- While the key's message is being handled, its acknowledgement re-scores the marker.
  if deadline <= t then
    local first = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
    redis.call('ZADD', P .. 'due', first[2], marker)
  end
end
redis.call('PUBLISH', P .. 'wake', '')
return 1
`);

// ARGV: P, lease ms, token. Answers {member, id, message, deliveries}, {ms until due}, or {}.
const claimScript = redisScript(`${common}
local t = now()
for _ = 1, 32 do
  local first = redis.call('ZRANGE', P .. 'due', 0, 0, 'WITHSCORES')
  if #first == 0 then return {} end
  local member, score = first[1], tonumber(first[2])
  if score > t then return { ms(score - t) } end
  local id = member
  local queue = false
  if string.sub(member, 1, 1) == 'k' then
    queue = P .. 'q:' .. string.sub(member, 2)
    local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
    if #head == 0 then
      redis.call('ZREM', P .. 'due', member)
      id = false
    elseif tonumber(head[2]) > t then
      redis.call('ZADD', P .. 'due', head[2], member)
      id = false
    else
      id = head[1]
    end
  end
  if id then
    local message = redis.call('HGET', P .. 'msg', id)
    if message then
      local deadline = ms(t + tonumber(ARGV[2]))
      redis.call('ZADD', P .. 'due', deadline, member)
      redis.call('ZADD', P .. 'lease', deadline, member)
      redis.call('HSET', P .. 'tok', member, ARGV[3])
      local n = redis.call('HINCRBY', P .. 'n', id, 1)
      return { member, id, message, tostring(n) }
    end
    -- An id whose message is gone (never written by this code): drop the reference.
    if queue then redis.call('ZREM', queue, id) else redis.call('ZREM', P .. 'due', member) end
  end
end
return {}
`);

// ARGV: P, member, token, lease ms
const renewScript = redisScript(`${common}
if redis.call('HGET', P .. 'tok', ARGV[2]) ~= ARGV[3] then return 0 end
local deadline = ms(now() + tonumber(ARGV[4]))
redis.call('ZADD', P .. 'due', 'XX', deadline, ARGV[2])
redis.call('ZADD', P .. 'lease', 'XX', deadline, ARGV[2])
return 1
`);

// ARGV: P, member, token, id
const acknowledgeScript = redisScript(`${common}
local member, id = ARGV[2], ARGV[4]
if redis.call('HGET', P .. 'tok', member) ~= ARGV[3] then return 0 end
redis.call('HDEL', P .. 'tok', member)
redis.call('ZREM', P .. 'lease', member)
redis.call('HDEL', P .. 'msg', id)
redis.call('HDEL', P .. 'n', id)
redis.call('ZREM', P .. 'all', id)
local key = redis.call('HGET', P .. 'okey', id)
if not key then
  redis.call('ZREM', P .. 'due', member)
  return 1
end
redis.call('HDEL', P .. 'okey', id)
local queue = P .. 'q:' .. key
redis.call('ZREM', queue, id)
local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
if #head == 0 then
  redis.call('ZREM', P .. 'due', member)
else
  redis.call('ZADD', P .. 'due', head[2], member)
  redis.call('PUBLISH', P .. 'wake', '')
end
return 1
`);

// ARGV: P. Answers {ready, delayed, in flight}.
const depthScript = redisScript(`${common}
local t = '(' .. ms(now())
local inFlight = redis.call('ZCOUNT', P .. 'lease', t, '+inf')
local delayed = redis.call('ZCOUNT', P .. 'all', t, '+inf')
return { redis.call('ZCARD', P .. 'all') - delayed - inFlight, delayed, inFlight }
`);

/**
 * Fedify's message queue on Redis (ioredis): shared by every process given the same server
 * and prefix; as durable as the server's persistence (AOF) makes it. Needs a standalone
 * server (the scripts touch keys they compute) whose eviction policy is `noeviction`.
 *
 * Every step is one Lua script, so atomic on the server. A claim re-scores the claimed
 * member to its lease deadline instead of removing it; the message is deleted only after
 * the handler settled. A listener killed mid-handler therefore leaves its message to come
 * back when the lease runs out: delivery is at least once, and exactly once while leases
 * are renewed in time.
 *
 * Messages sharing an ordering key wait in a sorted set of their own; one marker per key
 * stands for the key's first message among the claimable ones, so they run one at a time,
 * by due time then enqueue order, and a busy key never holds up other messages.
 *
 * Enqueues and acknowledgements that free a key PUBLISH a wake-up; each `listen()`
 * subscribes on a connection of its own (a duplicate of the client) and polls as a
 * fallback. `nativeRetrial` is false: Fedify retries by enqueueing anew. The client is the
 * caller's: abort the listeners and await `listen()` before closing it.
 */
export class RedisMessageQueue implements MessageQueue {
  readonly nativeRetrial = false;

  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #settings: ListenSettings;
  readonly #sleepers = new Sleepers();
  readonly #source: LeaseSource<RedisLease>;

  constructor(redis: Redis, options: RedisMessageQueueOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.keyPrefix ?? "herald:queue:";
    this.#settings = listenSettings(options, 1_000);
    this.#source = {
      claim: (token) => this.#claim(token),
      renew: async (lease, token) =>
        (await renewScript.run(
          this.#redis,
          [],
          [this.#prefix, lease.member, token, this.#settings.leaseMs],
        )) === 1,
      acknowledge: async (lease, token) =>
        (await acknowledgeScript.run(
          this.#redis,
          [],
          [this.#prefix, lease.member, token, lease.id],
        )) === 1,
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  async enqueue(message: any, options?: MessageQueueEnqueueOptions): Promise<void> {
    await this.#insert([encodeMessage(message)], options);
  }

  /** All messages or none: one script. */
  // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
  async enqueueMany(messages: readonly any[], options?: MessageQueueEnqueueOptions): Promise<void> {
    if (messages.length === 0) return;
    await this.#insert(messages.map(encodeMessage), options);
  }

  /**
   * Runs `handler` on each message until `options.signal` aborts. After the abort no new
   * message is claimed; the promise resolves once the running handlers settled and their
   * messages were removed. It never rejects: Redis errors are logged and retried.
   */
  async listen(
    // biome-ignore lint/suspicious/noExplicitAny: Fedify's MessageQueue declares `message: any`.
    handler: (message: any) => Promise<void> | void,
    options: MessageQueueListenOptions = {},
  ): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return;
    const subscriber = this.#redis.duplicate();
    const wake = () => this.#sleepers.wake();
    subscriber.on("error", (error) => logger.debug("Redis subscriber: {error}", { error }));
    subscriber.on("message", wake);
    // ioredis subscribes again after a reconnect; wake-ups sent meanwhile are lost.
    subscriber.on("ready", wake);
    try {
      await subscriber.subscribe(`${this.#prefix}wake`);
    } catch (error) {
      logger.warn("Could not subscribe to new messages; polling only: {error}", { error });
    }
    try {
      await listenWithLeases(this.#source, handler, signal, this.#settings, this.#sleepers);
    } finally {
      subscriber.disconnect();
    }
  }

  async getDepth(): Promise<MessageQueueDepth> {
    const { queued, ready, delayed } = await this.depth();
    return { queued, ready, delayed };
  }

  /** Messages waiting (due now or later) and being handled, for an operator's self-test. */
  async depth(): Promise<QueueDepth> {
    const [ready = 0, delayed = 0, inFlight = 0] = (await depthScript.run(
      this.#redis,
      [],
      [this.#prefix],
    )) as number[];
    return { queued: ready + delayed, ready, delayed, inFlight };
  }

  async #insert(messages: string[], options: MessageQueueEnqueueOptions | undefined) {
    const delayMs = options?.delay == null ? 0 : Math.max(0, toMilliseconds(options.delay));
    const key = options?.orderingKey;
    await enqueueScript.run(
      this.#redis,
      [],
      [this.#prefix, Math.ceil(delayMs), key === undefined ? "0" : "1", key ?? "", ...messages],
    );
    this.#sleepers.wake();
  }

  async #claim(token: string) {
    const answer = (await claimScript.run(
      this.#redis,
      [],
      [this.#prefix, this.#settings.leaseMs, token],
    )) as string[];
    const [member, id, message, deliveries] = answer;
    if (member !== undefined && id !== undefined && message !== undefined) {
      return { lease: { member, id, message, deliveries: Number(deliveries) } };
    }
    return { idleMs: member === undefined ? undefined : Number(member) };
  }
}

/** Fedify's delivery queue under `options.keyPrefix` in Redis. */
export function openRedisMessageQueue(
  redis: Redis,
  options: RedisMessageQueueOptions = {},
): RedisMessageQueue {
  return new RedisMessageQueue(redis, options);
}
