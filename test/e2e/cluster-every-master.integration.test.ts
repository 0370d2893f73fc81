import { createReplicaWait, ReplicationWaitError } from "@handoff-sync/queue";
import { createRedisClient, scanAll, slotOf, untilReady, type RedisClient } from "@handoff-sync/store";
import { startRedisCluster, uniqueName, waitFor, type TestRedisCluster } from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * On a Redis Cluster, WAIT and SCAN answer for the node they are sent to: the services send them
 * to every master (decision 0040). A cluster of its own, since a replica is paused here.
 */
describe("Redis Cluster: keyspace-wide commands reach every master", () => {
  let cluster: TestRedisCluster;
  let client: RedisClient;
  /** One key per master, all under one prefix. */
  const keys: string[] = [];
  const prefix = uniqueName("every");

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const seed = new URL(cluster.url);
    client = createRedisClient(
      { mode: "cluster", nodes: [{ host: seed.hostname, port: Number(seed.port) }] },
      { maxRetriesPerRequest: 1 },
    );
    await untilReady(client);
    const masters = new Set<number>();
    for (let i = 0; masters.size < 3 && i < 1000; i++) {
      const key = `${prefix}:${i}`;
      const port = (await cluster.masterOf(slotOf(key))).port;
      if (masters.has(port)) continue;
      masters.add(port);
      keys.push(key);
    }
    expect(keys).toHaveLength(3);
  }, 120_000);
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  it("WAIT for a replica fails while one master's replica does not acknowledge, and passes once it does", async () => {
    const wait = createReplicaWait({ redis: client, replicas: 1, timeoutMs: 300 });
    /** Replicas acknowledge within 300 ms on an idle machine, not always on a loaded one: asked until they do. */
    const acknowledged = (message: string) =>
      waitFor(async () => (await wait().then(() => true)) || undefined, { timeoutMs: 20_000, message });
    for (const key of keys) await client.set(key, "1");
    await acknowledged("every replica acknowledges the first writes");
    const key = keys[1] ?? "";
    const master = await cluster.masterOf(slotOf(key));
    const replicas = await Promise.all(
      cluster.nodes.map(async (node) => ((await node.masterPort()) === master.port ? node : undefined)),
    );
    const replica = replicas.find((node) => node !== undefined);
    if (replica === undefined) throw new Error(`no replica of ${master.port}`);
    replica.signal("SIGSTOP");
    try {
      await client.set(key, "2");
      // Asked of a single node, WAIT would answer for that node only: every attempt must see the stall.
      for (let i = 0; i < 5; i++) await expect(wait()).rejects.toBeInstanceOf(ReplicationWaitError);
    } finally {
      replica.signal("SIGCONT");
    }
    await acknowledged("the replica acknowledges again");
  });

  it("scanAll finds keys on every master", async () => {
    expect((await scanAll(client, `${prefix}:*`)).sort()).toEqual([...keys].sort());
  });
});
