/**
 * A POST with a large body on a raw socket, as a client that keeps sending while the server
 * answers early: `fetch` would fail with EPIPE once the server closes, and hide the answer.
 */
import { connect } from "node:net";

export interface RawPostOutcome {
  /** The status line's code, or undefined if the connection closed without one. */
  readonly status?: number;
  /** Milliseconds from the first byte sent to the connection's close. */
  readonly closedAfterMs: number;
}

export interface RawPostOptions {
  /** Between two 64 KiB chunks of the body; 5 ms by default, 0 as fast as the socket takes. */
  readonly gapMs?: number;
  /** Wait for the server to close the connection instead of closing it at the status line. */
  readonly untilClose?: boolean;
}

/**
 * POSTs `bytes` bytes of JSON-typed body declared by `Content-Length`, a chunk at a time, until
 * the server answers (or closes); write errors once the server has closed are ignored.
 */
export function postRaw(
  url: URL,
  bytes: number,
  options: RawPostOptions = {},
): Promise<RawPostOutcome> {
  const { gapMs = 5, untilClose = false } = options;
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(Number(url.port), url.hostname);
    let status: number | undefined;
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("error", () => {}); // a reset once the server closes: the outcome says what came
    socket.on("data", (chunk: string) => {
      answer += chunk;
      const code = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      if (code === undefined || status !== undefined) return;
      status = Number(code);
      if (!untilClose) socket.destroy();
    });
    socket.on("close", () => {
      resolve({
        ...(status === undefined ? {} : { status }),
        closedAfterMs: performance.now() - started,
      });
    });
    socket.write(
      `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Content-Type: application/activity+json\r\nContent-Length: ${bytes}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    const write = (): void => {
      if (socket.destroyed || sent >= bytes) return;
      sent += chunk.length;
      socket.write(chunk);
      setTimeout(write, gapMs);
    };
    write();
  });
}
