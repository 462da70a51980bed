import type { AddressInfo } from "node:net";
import type { Express } from "express";
import { onTestFinished } from "vitest";

/** Serves `app` on a free port of 127.0.0.1 until the test ends; resolves with its base URL. */
export async function serve(app: Express): Promise<string> {
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
