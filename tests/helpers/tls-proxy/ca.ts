/**
 * A throwaway certificate authority made with the `openssl` CLI: one CA and a leaf certificate per
 * host name, laid out like Let's Encrypt's `live/NAME/{fullchain,privkey}.pem` so the README's
 * proxy configurations only need their `/etc/letsencrypt` prefix replaced.
 */

import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where Debian's `update-ca-certificates` picks up local CAs. */
const LOCAL_CA_DIR = "/usr/local/share/ca-certificates";
/** Serialises `update-ca-certificates` between test processes (it rewrites one bundle file). */
const TRUST_LOCK = "/tmp/herald-test-ca.lock";

/** A certificate and its key, as files. */
export interface Certificate {
  readonly name: string;
  /** The leaf certificate (PEM); the CA is not appended, peers trust it directly. */
  readonly certPath: string;
  readonly keyPath: string;
}

export interface TestCa {
  /** The temporary directory holding everything; `live/NAME/` per certificate. */
  readonly dir: string;
  /** The CA certificate (PEM file): for `NODE_EXTRA_CA_CERTS`, `curl --cacert`, undici's `ca`. */
  readonly certPath: string;
  /** The CA certificate's PEM text. */
  readonly certPem: string;
  /** A certificate for `name` (a DNS name), issued on the first call and reused after. */
  certificate(name: string): Promise<Certificate>;
  /**
   * Adds the CA to the system trust store (for libcurl/OpenSSL-based peers such as snac2) until
   * `remove()`. Slow (`update-ca-certificates` takes seconds, more with Java's hook installed).
   */
  trustSystemWide(): Promise<void>;
  /** Takes the CA out of the system trust store (if added) and deletes the directory. */
  remove(): Promise<void>;
}

/** Creates a CA valid for two days in a new temporary directory. */
export async function createTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), "herald-ca-"));
  const certPath = join(dir, "ca.pem");
  const keyPath = join(dir, "ca-key.pem");
  const id = randomUUID();
  await run("openssl", [
    ...["req", "-x509", "-new", "-nodes", "-days", "2"],
    ...["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    ...["-keyout", keyPath, "-out", certPath],
    ...["-subj", `/CN=Herald test CA ${id}`],
    ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  const certPem = await readFile(certPath, "utf8");
  const issued = new Map<string, Promise<Certificate>>();
  const trustedPath = join(LOCAL_CA_DIR, `herald-test-${id}.crt`);
  let trusted = false;

  async function issue(name: string): Promise<Certificate> {
    if (!/^[a-z0-9.-]+$/.test(name)) throw new Error(`Not a DNS name: "${name}".`);
    const live = join(dir, "live", name);
    await mkdir(live, { recursive: true });
    const leaf = {
      name,
      certPath: join(live, "fullchain.pem"),
      keyPath: join(live, "privkey.pem"),
    };
    const csrPath = join(live, "request.csr");
    const extPath = join(live, "extensions.cnf");
    await writeFile(
      extPath,
      [
        `subjectAltName=DNS:${name}`,
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
      ].join("\n"),
    );
    await run("openssl", [
      ...["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
      ...["-keyout", leaf.keyPath, "-out", csrPath, "-subj", `/CN=${name}`],
    ]);
    await run("openssl", [
      ...["x509", "-req", "-in", csrPath, "-days", "2", "-set_serial", `0x${randomHex()}`],
      ...["-CA", certPath, "-CAkey", keyPath, "-extfile", extPath, "-out", leaf.certPath],
    ]);
    return leaf;
  }

  return {
    dir,
    certPath,
    certPem,
    certificate(name) {
      let certificate = issued.get(name);
      if (certificate === undefined) {
        certificate = issue(name);
        issued.set(name, certificate);
      }
      return certificate;
    },
    async trustSystemWide() {
      if (trusted) return;
      await copyFile(certPath, trustedPath);
      trusted = true;
      await updateSystemTrust();
    },
    async remove() {
      if (trusted) {
        await rm(trustedPath, { force: true });
        await updateSystemTrust();
        trusted = false;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function updateSystemTrust(): Promise<void> {
  await run("flock", [TRUST_LOCK, "update-ca-certificates"], { timeout: 120_000 });
}

function randomHex(): string {
  return randomUUID().replaceAll("-", "");
}
