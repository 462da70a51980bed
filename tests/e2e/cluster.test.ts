/**
 * The multi-process guarantee, end to end: one web process and two delivery workers on one
 * PostgreSQL schema deliver a new article to each follower exactly once. `bench/cluster.ts`
 * does the same at scale (2 web + 2 workers, 200 followers).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  type Cluster,
  createsOf,
  followAll,
  objectIdOf,
  startCluster,
  waitFor,
  writeArticle,
} from "../helpers/cluster.ts";
import { type FakeRemote, startFakeRemotes } from "../helpers/fake-remote.ts";
import { postgresAvailable, testDatabaseUrl } from "../helpers/postgres.ts";

describe.runIf(postgresAvailable)("a cluster of Herald processes on PostgreSQL", () => {
  it("delivers a new article to each follower exactly once", { timeout: 60_000 }, async () => {
    let cluster: Cluster | undefined;
    let remotes: FakeRemote[] = [];
    onTestFinished(async () => {
      await Promise.all(remotes.map((remote) => remote.close()));
      const stopped = await cluster?.stop();
      for (const process of stopped ?? []) expect(process.exitedInTime, process.name).toBe(true);
    });
    [cluster, remotes] = await Promise.all([
      startCluster({ web: 1, workers: 2, databaseUrl: testDatabaseUrl }),
      startFakeRemotes(10),
    ]);
    await followAll(remotes, cluster.actor);
    await waitFor(
      () => (cluster?.grep(/Published: .*"role":"web"/).length ?? 0) >= 1,
      10_000,
      "the first scan",
    );

    writeArticle(cluster.articlesDir, "news", "News", new Date(Date.now() - 1_000));
    const object = await objectIdOf(cluster.publicUrl, "news");
    const all = remotes;
    await waitFor(
      () => all.every((remote) => createsOf(remote, object).verified.length > 0),
      20_000,
      "a Create at every follower",
    );
    await sleep(1_500); // duplicates would arrive now
    for (const remote of remotes) {
      const { verified, other } = createsOf(remote, object);
      expect(verified, remote.host).toHaveLength(1);
      expect(other, remote.host).toHaveLength(0);
    }
    const byProcess = cluster.deliveries();
    const creates = [...byProcess].map(
      ([name, types]) => [name, types.get("Create") ?? 0] as const,
    );
    expect(creates.every(([name]) => name.startsWith("worker-"))).toBe(true);
    expect(creates.reduce((sum, [, n]) => sum + n, 0)).toBe(remotes.length);
  });
});
