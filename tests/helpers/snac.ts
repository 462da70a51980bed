/**
 * snac2 (github.com/grunfink/snac2, C, MIT), a real fediverse server nobody on this project
 * wrote, for interoperability tests: its own HTTP signatures (draft-cavage, `rsa-sha256` over
 * `(request-target) host digest date`), its own JSON handling and its own rules.
 *
 * It is built once into `node_modules/.cache/snac2` from the archive in the shared `peers/`
 * folder, set up non-interactively in a temporary base directory, and driven the way its manual
 * (`doc/snac.1`) says: its command line for follow, unfollow, note (with `-r inReplyTo`), boost,
 * alias and signed GETs (`request`); the web form its timeline posts for a like (there is no
 * `like` command). Its state is read from its files: `user/UID/following/MD5.json` (the Follow,
 * replaced by the Accept once confirmed), `user/UID/private/MD5.json` (the timeline) and
 * `object/XX/MD5.json` (every object), MD5 being the hex digest of the id.
 *
 * snac expects a TLS-terminating proxy in front of its plain-HTTP `httpd` and fetches other
 * servers over HTTPS, so its `host` must resolve to a loopback address with a proxy on 443 and a
 * certificate the system trusts: the TLS harness (`tls-proxy.ts`) provides those. Free of vitest.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonObject } from "./fake-remote.ts";
import { freePort } from "./herald-spawn.ts";

export type { JsonObject };

const repository = fileURLToPath(new URL("../..", import.meta.url));
const cacheDir = join(repository, "node_modules", ".cache", "snac2");

/**
 * The `build-snac` script of the shared `peers/` folder: `HERALD_PEERS_DIR`, else the first
 * `shared/peers` above the repository (`../shared/peers` for a checkout beside it, as the run
 * contract says; further up for a worktree).
 */
function buildScript(): string | undefined {
  const fromEnv = process.env.HERALD_PEERS_DIR;
  if (fromEnv) return join(fromEnv, "build-snac");
  for (let dir = dirname(repository); ; dir = dirname(dir)) {
    const script = join(dir, "shared", "peers", "build-snac");
    if (existsSync(script)) return script;
    if (dirname(dir) === dir) return undefined;
  }
}

const binary = join(cacheDir, "snac");

/** The snac binary, built on first use (about 20 s, more on a busy machine) and reused after. */
export function snacBinary(): string {
  if (!existsSync(binary)) {
    const script = buildScript();
    if (script === undefined) {
      throw new Error(
        "Cannot build snac2: no shared/peers/build-snac above the repository; set HERALD_PEERS_DIR.",
      );
    }
    execFileSync(script, [cacheDir], { stdio: "pipe" });
  }
  return binary;
}

/** What a command printed and how it ended. */
export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SnacUser {
  readonly uid: string;
  /** `https://HOST/UID`. */
  readonly actorUrl: URL;
  readonly handle: string;
  /** Runs `snac COMMAND BASEDIR UID ...args`; rejects when it fails. */
  run(command: string, ...args: string[]): Promise<CommandResult>;
  /** Sends a Follow (the handle is looked up by WebFinger over HTTPS). */
  follow(account: string): Promise<void>;
  /** Sends the Undo of the Follow; snac needs the actor URL here, not a handle. */
  unfollow(actor: URL): Promise<void>;
  /** A public Note, a reply when `inReplyTo` is given; resolves with the Note's id. */
  note(text: string, inReplyTo?: URL): Promise<URL>;
  /** An Announce of the object. */
  boost(object: URL): Promise<void>;
  /** A Like of the object, through the web form (the command line has no like). */
  like(object: URL): Promise<void>;
  /** Lists `account` (a handle or actor URL) in this actor's `alsoKnownAs`. */
  alias(account: string): Promise<void>;
  /** A GET signed by this user (`snac request`): the status and the JSON snac parsed. */
  request(url: URL): Promise<{ status: number; body: JsonObject | undefined }>;
  /** The stored Follow (type `Follow`) or, once accepted, the Accept; undefined when none. */
  following(actor: URL): JsonObject | undefined;
  /** The ids in this user's timeline (`private/`). */
  timeline(): string[];
  /** The timeline as its owner sees it in snac's web interface (HTML). */
  timelinePage(): Promise<string>;
  /** The user's notifications (snac's `notify/` folder): `type`, `utype`, `actor`, `objid`. */
  notifications(): JsonObject[];
}

export interface SnacServer {
  readonly baseDir: string;
  readonly host: string;
  /** Where `httpd` listens: 127.0.0.1 and this port, plain HTTP (the proxy's backend). */
  readonly port: number;
  readonly origin: URL;
  /** Creates a user (with a fresh RSA key and password). */
  addUser(uid: string): Promise<SnacUser>;
  /** A stored object by id (`object/XX/MD5.json`), or undefined. */
  object(id: URL | string): JsonObject | undefined;
  /** Everything `httpd` logged so far. */
  output(): string;
  /** Stops `httpd` and removes the base directory. */
  stop(): Promise<void>;
}

const md5 = (text: string) => createHash("md5").update(text).digest("hex");

/** A JSON file of snac's, or undefined when it is missing or half written (snac writes in place). */
function readJson(file: string): JsonObject | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as JsonObject;
  } catch {
    return undefined;
  }
}

/** Runs the binary; rejects with its output on a non-zero exit. */
function execute(args: string[], input?: string): Promise<CommandResult> {
  const child = spawn(snacBinary(), args, {
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  // A command that exits before reading its answers makes the write fail with EPIPE; its
  // exit code says what went wrong.
  child.stdin?.on("error", () => {});
  child.stdin?.end(input);
  return new Promise((done, fail) => {
    child.once("error", fail);
    child.once("close", (code) => {
      const result = { code, stdout, stderr };
      if (code === 0) done(result);
      else fail(new Error(`snac ${args.join(" ")} exited with ${code}:\n${stdout}${stderr}`));
    });
  });
}

/**
 * A snac server named `host` (e.g. `snac.test`): `snac init` answered on stdin, then `snac httpd`
 * on 127.0.0.1 and a free port; resolves once it answers. The caller puts the TLS proxy for
 * `https://HOST` in front of `port` and stops the server.
 */
export async function startSnac(host: string): Promise<SnacServer> {
  const binary = snacBinary();
  const root = mkdtempSync(join(tmpdir(), "herald-snac-"));
  const baseDir = join(root, "snac");
  const port = await freePort();
  // The prompts, in order: address, port, host name, URL prefix, admin e-mail.
  await execute(["init", baseDir], `127.0.0.1\n${port}\n${host}\n\n\n`);
  const origin = new URL(`https://${host}`);

  let log = "";
  const child: ChildProcess = spawn(binary, ["httpd", baseDir], {
    // dbglevel 1 logs each activity snac receives and why it drops one: what a failing test needs.
    env: { ...process.env, DEBUG: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => (log += chunk));
  }
  const exited = new Promise<void>((done) => child.once("exit", () => done()));

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`snac httpd exited with ${child.exitCode}:\n${log}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`snac httpd did not start in 10 s:\n${log}`);
    await new Promise((done) => setTimeout(done, 100));
  }

  const object = (id: URL | string) => {
    const hash = md5(String(id));
    return readJson(join(baseDir, "object", hash.slice(0, 2), `${hash}.json`));
  };

  async function addUser(uid: string): Promise<SnacUser> {
    const { stdout } = await execute(["adduser", baseDir, uid]);
    const password = /User password is (\S+)/.exec(stdout)?.[1];
    if (password === undefined) throw new Error(`snac adduser printed no password:\n${stdout}`);
    const userDir = join(baseDir, "user", uid);
    const actorUrl = new URL(`/${uid}`, origin);
    // snac's web interface (the owner's timeline and its buttons) asks for basic auth.
    const authorization = `Basic ${Buffer.from(`${uid}:${password}`).toString("base64")}`;
    const run = (command: string, ...args: string[]) => execute([command, baseDir, uid, ...args]);
    return {
      uid,
      actorUrl,
      handle: `${uid}@${host}`,
      run,
      async follow(account) {
        await run("follow", account);
      },
      async unfollow(actor) {
        await run("unfollow", actor.href);
      },
      async note(text, inReplyTo) {
        await run("note", text, ...(inReplyTo ? ["-r", inReplyTo.href] : []));
        return ownNote(userDir, actorUrl, text);
      },
      async boost(target) {
        await run("boost", target.href);
      },
      async like(target) {
        // The timeline's Like button: a form POST to /UID/admin/action.
        const response = await fetch(`http://127.0.0.1:${port}/${uid}/admin/action`, {
          method: "POST",
          headers: {
            authorization,
            "content-type": "application/x-www-form-urlencoded",
            host,
          },
          body: new URLSearchParams({ id: target.href, action: "Like" }),
          redirect: "manual",
        });
        if (response.status !== 303) {
          throw new Error(`snac refused the like: ${response.status} ${await response.text()}`);
        }
      },
      async alias(account) {
        await run("alias", account);
      },
      async request(url) {
        const { stdout } = await run("request", url.href);
        const match = /^status: (-?\d+)\n([\s\S]*)$/.exec(stdout);
        if (match === null) throw new Error(`Unexpected output of snac request:\n${stdout}`);
        const json = match[2]?.trim();
        return {
          status: Number(match[1]),
          body: json ? (JSON.parse(json) as JsonObject) : undefined,
        };
      },
      following(actor) {
        return readJson(join(userDir, "following", `${md5(actor.href)}.json`));
      },
      timeline() {
        return readdirSync(join(userDir, "private"))
          .filter((name) => name.endsWith(".json"))
          .map((name) => readJson(join(userDir, "private", name))?.id)
          .filter((id): id is string => typeof id === "string");
      },
      notifications() {
        const folder = join(userDir, "notify");
        if (!existsSync(folder)) return [];
        return readdirSync(folder)
          .filter((name) => name.endsWith(".json"))
          .map((name) => readJson(join(folder, name)))
          .filter((note): note is JsonObject => note !== undefined);
      },
      async timelinePage() {
        const response = await fetch(`http://127.0.0.1:${port}/${uid}/admin`, {
          headers: { authorization, host },
        });
        if (!response.ok) throw new Error(`snac's timeline page answered ${response.status}.`);
        return response.text();
      },
    };
  }

  return {
    baseDir,
    host,
    port,
    origin,
    addUser,
    object,
    output: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The id of the user's own Note with this text, from its timeline (`snac note` prints none). */
function ownNote(userDir: string, actorUrl: URL, text: string): URL {
  for (const name of readdirSync(join(userDir, "private"))) {
    const note = readJson(join(userDir, "private", name));
    if (note?.attributedTo === actorUrl.href && String(note.content).includes(text)) {
      return new URL(String(note.id));
    }
  }
  throw new Error(`snac note left no Note with "${text}" in the timeline.`);
}
