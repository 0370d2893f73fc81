import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv, redisOptions, redisTopology, RedisEnvSchema } from "@handoff-sync/config";
import { createDeliveryQueues, createDeliveryWorker, createReplicaWait } from "@handoff-sync/queue";
import { createStateCatalogue } from "@handoff-sync/schema";
import {
  createHandoffStore,
  createRedisClient,
  mastersOf,
  slotOf,
  untilReady,
  type RedisClient,
} from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import {
  createTestPki,
  startRedisCluster,
  uniqueName,
  waitFor,
  type TestPki,
  type TestRedisCluster,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const log = createLogger({ level: "silent", service: "test" });
const USER = { name: "handoff", password: "cluster-secret" };

/**
 * A Redis Cluster as a managed one is run: TLS on client connections, the cluster bus and
 * replication, client certificates demanded, an ACL user and the default user off. The services
 * connect from the same environment variables as to a single secure Redis.
 */
describe("Redis Cluster over TLS with an ACL user, configured from the environment as the services are", () => {
  let dir = "";
  let pki: TestPki;
  let cluster: TestRedisCluster;
  let client: RedisClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hs-secure-cluster-"));
    pki = await createTestPki(dir);
    const passwordFile = join(dir, "redis-password");
    await writeFile(passwordFile, `${USER.password}\n`);
    cluster = await startRedisCluster({ secure: { pki, user: USER } });
    // What every main does: parse the environment, build the topology and the options.
    const env = parseEnv(RedisEnvSchema, {
      REDIS_URL: cluster.url,
      REDIS_CLUSTER: "true",
      REDIS_USERNAME: USER.name,
      REDIS_PASSWORD_FILE: passwordFile,
      REDIS_TLS_CA_FILE: pki.caFile,
      REDIS_TLS_CERT_FILE: pki.clientCertFile,
      REDIS_TLS_KEY_FILE: pki.clientKeyFile,
    });
    // As the worker's connection: BullMQ's blocking commands need maxRetriesPerRequest null.
    client = createRedisClient(redisTopology(env), {
      ...(await redisOptions(env)),
      maxRetriesPerRequest: null,
    });
    client.on("error", (error: Error) => log.debug({ err: error }, "redis error"));
    await untilReady(client);
  }, 120_000);
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("reaches every master as the ACL user over TLS", async () => {
    expect(cluster.url).toMatch(/^rediss:/);
    const masters = mastersOf(client);
    expect(masters).toHaveLength(3);
    for (const master of masters) expect(await master.call("ACL", "WHOAMI")).toBe(USER.name);
  });

  it("applies, enqueues and delivers handoffs on every master, and replicas acknowledge over TLS", async () => {
    const prefix = uniqueName("tls");
    const store = createHandoffStore({ redis: client, prefix, retentionMs: 60_000 });
    const queues = createDeliveryQueues({
      connection: client,
      prefix,
      destinations: { crm: { attempts: 2, base_delay_ms: 50, max_delay_ms: 100 } },
    });
    const delivered = new Set<string>();
    const worker = createDeliveryWorker({
      queue: queues.get("crm"),
      connection: client,
      store,
      log,
      concurrency: 4,
      deliver: async ({ snapshot, beforeWrite }) => {
        await beforeWrite();
        delivered.add(snapshot.key);
        return { recordId: `r-${snapshot.key}` };
      },
    });
    try {
      const catalogue = createStateCatalogue({});
      const ids = Array.from({ length: 12 }, (_, i) => `tls-${i}`);
      for (const id of ids) {
        const applied = await store.apply(
          {
            schema_version: 1,
            event_id: `e-${id}`,
            id,
            state: "handoff_initiated",
            occurred_at: new Date().toISOString(),
            data: { customer_id: `cust-${id}` },
          },
          { catalogue, receivedAt: new Date().toISOString() },
        );
        await queues.enqueue("crm", {
          v: 1,
          key: applied.key,
          version: applied.snapshot.version,
          event_id: `e-${id}`,
          occurred_at: applied.snapshot.occurred_at,
          enqueued_at: new Date().toISOString(),
        });
      }
      // The handoffs' keys live on more than one master: the test is not one node's.
      const owners = new Set(
        await Promise.all(
          ids.map(async (id) => (await cluster.masterOf(slotOf(store.keys.snapshot(id)))).port),
        ),
      );
      expect(owners.size).toBeGreaterThan(1);
      await waitFor(() => ids.every((id) => delivered.has(id)), {
        timeoutMs: 30_000,
        message: "every handoff delivered",
      });
      const wait = createReplicaWait({ redis: client, replicas: 1, timeoutMs: 1000 });
      await waitFor(async () => (await wait().then(() => true)) || undefined, {
        timeoutMs: 20_000,
        message: "every master's replica acknowledges over TLS",
      });
    } finally {
      await worker.close();
      await queues.close();
    }
  });
});
