/**
 * Issue #13.1: what another server answers cannot exhaust Herald. The key named by an inbox
 * POST's `keyId` is served by a hostile loopback server, huge or dripping; the real service
 * runs with the Docker image's heap limit and a short `REQUEST_TIMEOUT_SECONDS`.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { describe, expect, it, onTestFinished } from "vitest";
import { AS_CONTEXT, type FakeRemote, startFakeRemote } from "../helpers/fake-remote.ts";
import { type HeraldProcess, heraldFolders, startHerald } from "../helpers/herald-process.ts";

const TIMEOUT_SECONDS = 3;
/** The deadline, and time for Fedify to answer once the key fetch failed. */
const ANSWER_WITHIN_MS = (TIMEOUT_SECONDS + 3) * 1000;
const HUGE_BYTES = 300 * 1024 * 1024;

/**
 * `/huge/…`: a key document of `HUGE_BYTES`, chunked (no Content-Length), made as it is sent;
 * `/drip/…`: a key document that never ends, one byte a second.
 */
async function hostileServer(): Promise<URL> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/activity+json" });
    if (req.url?.startsWith("/huge/")) {
      Readable.from(hugeDocument()).pipe(res);
    } else {
      res.write("{");
      const drip = setInterval(() => res.write(" "), 1000);
      res.on("close", () => clearInterval(drip));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

function* hugeDocument(): Generator<Buffer> {
  yield Buffer.from(`{"@context":"https://w3id.org/security/v1","padding":"`);
  const chunk = Buffer.alloc(64 * 1024, "x");
  for (let sent = 0; sent < HUGE_BYTES; sent += chunk.length) yield chunk;
  yield Buffer.from(`"}`);
}

async function setUp(): Promise<{ herald: HeraldProcess; remote: FakeRemote; hostile: URL }> {
  const remote = await startFakeRemote({ requestTimeoutMs: 60_000 });
  onTestFinished(() => remote.close());
  const herald = await startHerald(heraldFolders(), {
    env: {
      NODE_OPTIONS: "--max-old-space-size=256",
      REQUEST_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    },
  });
  return { herald, remote, hostile: await hostileServer() };
}

/** A Follow from alice, signed by her key but naming `keyId` as the key to check it with. */
async function postWithKeyId(herald: HeraldProcess, remote: FakeRemote, keyId: URL) {
  const follow = {
    "@context": AS_CONTEXT,
    id: `${remote.actorUrl().href}#follows/${keyId.pathname}`,
    type: "Follow",
    actor: remote.actorUrl().href,
    object: new URL("/users/news", herald.origin).href,
  };
  const started = Date.now();
  const result = await remote.post("alice", new URL("/inbox", herald.origin), follow, {
    keyId: keyId.href,
  });
  return { status: result.status, ms: Date.now() - started };
}

/** Peak and current resident memory of a process, in MB. */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { peak: kb("VmHWM") / 1024, now: kb("VmRSS") / 1024 };
}

describe("Fetching other servers' documents is bounded", () => {
  it("survives two huge key documents at once, in little memory, answering within the deadline", async () => {
    const { herald, remote, hostile } = await setUp();
    const answers = await Promise.all([
      postWithKeyId(herald, remote, new URL("/huge/1#main-key", hostile)),
      postWithKeyId(herald, remote, new URL("/huge/2#main-key", hostile)),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.ms).toBeLessThan(ANSWER_WITHIN_MS);
    }
    expect(herald.child.exitCode).toBeNull();
    expect((await fetch(new URL("/healthz", herald.origin))).ok).toBe(true);
    const memory = memoryOf(herald.child.pid ?? 0);
    console.log(
      `outgoing-limits: answered in ${answers.map((a) => a.ms).join(" and ")} ms; ` +
        `peak RSS ${memory.peak.toFixed(0)} MB, now ${memory.now.toFixed(0)} MB`,
    );
    expect(memory.peak).toBeLessThan(400);
  }, 60_000);

  it("answers an inbox POST within the deadline when the key document drips", async () => {
    const { herald, remote, hostile } = await setUp();
    const answer = await postWithKeyId(herald, remote, new URL("/drip/1#main-key", hostile));
    console.log(`outgoing-limits: dripping key document answered in ${answer.ms} ms`);
    expect(answer.status).toBe(401);
    expect(answer.ms).toBeLessThan(ANSWER_WITHIN_MS);
  }, 60_000);
});
