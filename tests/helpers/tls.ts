import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";

/** A self-signed certificate for 127.0.0.1 (or another loopback `address`), and the file to trust it with. */
export interface ThrowawayCert {
  readonly key: string;
  readonly cert: string;
  /** The certificate's path: `NODE_EXTRA_CA_CERTS` for a child process that must trust it. */
  readonly certFile: string;
}

/**
 * A fresh key and certificate for `https://127.0.0.1`, made with the `openssl` CLI in a temporary
 * folder removed when the test ends. Servers in tests then speak https as real ones do, and
 * Herald never needs a plain-http downgrade to reach them.
 */
export function throwawayCert(address = "127.0.0.1"): ThrowawayCert {
  const dir = mkdtempSync(join(tmpdir(), "herald-tls-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", `/CN=${address}`],
      ...["-addext", `subjectAltName=IP:${address}`],
    ],
    { stdio: "ignore" },
  );
  return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8"), certFile };
}
