/**
 * The baseline of `bench/fanout.ts`, in a process of its own as Herald is: a bare script that
 * signs (draft-cavage, RSA-2048, `(request-target) host date digest`, as Mastodon does) and
 * POSTs one activity to each shared inbox it is given, `concurrency` at a time, over keep-alive
 * connections opened by that run, as a script run for one story would. Nothing else: no queue,
 * no ledger, no retries.
 *
 * The activity is the one Herald delivered just before (`activity`: its JSON as it arrived), with
 * the baseline's own id and actor: the same bytes to send, digest and parse, less a few for the
 * shorter actor URL.
 *
 * The parent sends `{ inboxes, keyId, actor, concurrency, activity }` and gets back `{ start, end }`
 * (times comparable across processes, see fanout-receivers.ts), or `{ error }`.
 */
import { createPrivateKey, randomUUID } from "node:crypto";
import http from "node:http";
import {
  digestHeader,
  httpDate,
  POST_SIGNED_HEADERS,
  signatureHeader,
} from "../tests/helpers/fake-remote/cavage-signature.ts";
import { loadFixtureKeyPair } from "../tests/helpers/fake-remote.ts";
import { now } from "./fanout-receivers.ts";

export interface BaselineJob {
  readonly inboxes: readonly string[];
  readonly keyId: string;
  readonly actor: string;
  readonly concurrency: number;
  readonly activity: string;
}

export type BaselineResult =
  /** `cpu`: the process's CPU time during the run (ms), all threads. */
  | { readonly start: number; readonly end: number; readonly cpu: number }
  | { readonly error: string };

const privateKey = createPrivateKey(loadFixtureKeyPair().privateKeyPem);

function post(agent: http.Agent, inbox: URL, keyId: string, body: string): Promise<number> {
  const headers: Record<string, string> = {
    host: inbox.host,
    date: httpDate(new Date()),
    digest: digestHeader(body),
    "content-type": "application/activity+json",
  };
  headers.signature = signatureHeader({
    method: "POST",
    url: inbox,
    headers,
    covered: POST_SIGNED_HEADERS,
    keyId,
    privateKey,
  });
  return new Promise((resolve, reject) => {
    const request = http.request(inbox, { method: "POST", headers, agent, setHost: false });
    request.on("response", (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    });
    request.on("error", reject);
    request.end(body);
  });
}

async function run(job: BaselineJob): Promise<BaselineResult> {
  const start = now();
  const cpu = process.cpuUsage();
  // Its own connections, closed when it ends: Herald's fan-out finds none open either (it closes
  // a connection idle for a second, and real fan-outs are minutes apart).
  const agent = new http.Agent({ keepAlive: true });
  let next = 0;
  const activity: Record<string, unknown> = JSON.parse(job.activity);
  const worker = async () => {
    while (next < job.inboxes.length) {
      const inbox = new URL(job.inboxes[next++] as string);
      const body = JSON.stringify({
        ...activity,
        id: `${job.actor}/baseline/${randomUUID()}`,
        actor: job.actor,
      });
      // A kept-alive socket the server closed just then fails at once: send again, once.
      const status = await post(agent, inbox, job.keyId, body).catch(() =>
        post(agent, inbox, job.keyId, body),
      );
      if (status !== 202) throw new Error(`baseline POST to ${inbox.href} answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker)).finally(() => agent.destroy());
  const used = process.cpuUsage(cpu);
  return { start, end: now(), cpu: (used.user + used.system) / 1000 };
}

if (process.env.BENCH_BASELINE === "1") {
  process.on("message", (job: BaselineJob) => {
    run(job).then(
      (result) => process.send?.(result),
      (error: unknown) => process.send?.({ error: String(error) }),
    );
  });
}
