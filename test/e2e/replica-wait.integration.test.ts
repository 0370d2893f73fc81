import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { destinationQueueNames } from "@handoff-sync/queue";
import {
  freePort,
  startRedisServer,
  startService,
  uniqueName,
  waitFor,
  type PrivateRedis,
  type RunningService,
} from "@handoff-sync/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, describe, expect, inject, it } from "vitest";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The consumer with REDIS_WAIT_REPLICAS=1 against a private primary and its replica: an offset is
 * committed only once the replica has acknowledged the record's writes. With the replica down the
 * record is retried and its offset stays; once a replica is back, it goes through.
 */
describe("REDIS_WAIT_REPLICAS", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  async function replicaOf(primary: PrivateRedis): Promise<PrivateRedis> {
    // A replica writes the primary's snapshot to its directory on every full sync: keep it out of the repo.
    const dir = await mkdtemp(join(tmpdir(), "handoff-sync-replica-"));
    const replica = await startRedisServer(["--replicaof", "127.0.0.1", String(primary.port), "--dir", dir]);
    cleanups.push(() => replica.stop());
    return replica;
  }

  async function connectedReplicas(redis: Redis): Promise<number> {
    const info = await redis.info("replication");
    const online = info.split("\n").filter((line) => /^slave\d+:.*state=online/.test(line));
    return online.length;
  }

  it("commits an offset only after a replica acknowledged the enqueue", async () => {
    const primary = await startRedisServer();
    cleanups.push(() => primary.stop());
    const admin = new Redis(primary.url, { maxRetriesPerRequest: null });
    cleanups.push(() => admin.quit());
    const replica = await replicaOf(primary);
    await waitFor(async () => (await connectedReplicas(admin)) === 1, {
      timeoutMs: 20_000,
      message: "replica online",
    });

    const topic = uniqueName("wait-events");
    const groupId = uniqueName("wait-group");
    const prefix = uniqueName("wait");
    const kafka = new Kafka({
      clientId: "wait-test",
      brokers: inject("kafkaBrokers").split(","),
      logLevel: logLevel.NOTHING,
    });
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    cleanups.push(() => kafkaAdmin.disconnect());
    await kafkaAdmin.createTopics({
      topics: [
        { topic, numPartitions: 1 },
        { topic: `${topic}.dlq`, numPartitions: 1 },
      ],
      waitForLeaders: true,
    });
    const producer = kafka.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());

    const dir = await mkdtemp(join(tmpdir(), "handoff-sync-wait-"));
    const config = join(dir, "destinations.yaml");
    await writeFile(
      config,
      [
        "version: 1",
        "source:",
        `  topic: ${topic}`,
        `  rejected_topic: ${topic}.dlq`,
        "destinations:",
        "  hook:",
        "    type: webhook",
        "    url: http://127.0.0.1:9/hooks",
        "    secret: env:HOOK_SECRET",
        "    allow_private_network: true",
        "",
      ].join("\n"),
    );
    const env = {
      KAFKA_BROKERS: inject("kafkaBrokers"),
      REDIS_URL: primary.url,
      REDIS_PREFIX: prefix,
      KAFKA_GROUP_ID: groupId,
      HANDOFF_SYNC_CONFIG: config,
      LOG_LEVEL: "warn",
      KAFKA_SESSION_TIMEOUT_MS: "6000",
      KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
      REDIS_WAIT_REPLICAS: "1",
      REDIS_WAIT_TIMEOUT_MS: "300",
      HOOK_SECRET: "whsec_cmVwbGljYS13YWl0LXRlc3Qtc2VjcmV0",
    };
    const consumers: RunningService[] = [];
    const startConsumer = async (): Promise<RunningService> => {
      const consumer = await startService("consumer", env, { port: await freePort() });
      consumers.push(consumer);
      cleanups.push(() => consumer.kill());
      return consumer;
    };
    let consumer = await startConsumer();

    const names = destinationQueueNames(prefix, "hook");
    const queue = new Queue(names.deliver, { connection: admin, prefix: names.prefix });
    cleanups.push(() => queue.close());
    const committed = async (): Promise<number> => {
      const [offsets] = await kafkaAdmin.fetchOffsets({ groupId, topics: [topic] });
      return Number(offsets?.partitions[0]?.offset ?? -1);
    };
    const send = async (key: string): Promise<void> => {
      const event = {
        schema_version: 1,
        event_id: randomUUID(),
        id: `conv-${key}`,
        shared_id: key,
        state: "handoff_initiated",
        occurred_at: new Date().toISOString(),
        data: {},
      };
      await producer.send({ topic, messages: [{ key, value: JSON.stringify(event) }] });
    };

    await send("with-replica");
    await waitFor(async () => (await committed()) === 1, {
      timeoutMs: 60_000,
      message: "first offset committed",
    });
    expect(await queue.getJobCounts("waiting")).toEqual({ waiting: 1 });

    // The replica goes away: the primary still takes writes, but WAIT gets no acknowledgement.
    await replica.stop();
    await waitFor(async () => (await connectedReplicas(admin)) === 0, {
      timeoutMs: 20_000,
      message: "replica gone",
    });
    await send("without-replica");
    // The record is applied and enqueued on the primary, and retried; its offset stays.
    await waitFor(async () => (await queue.getWaitingCount()) === 2, {
      timeoutMs: 30_000,
      message: "second record enqueued on the primary",
    });
    await sleep(5000);
    expect(await committed()).toBe(1);
    await waitFor(
      () => consumers.flatMap((c) => c.lines).some((line) => line.includes("ReplicationWaitError")),
      { timeoutMs: 20_000, message: "the WAIT failure logged" },
    );

    await replicaOf(primary);
    await waitFor(async () => (await connectedReplicas(admin)) === 1, {
      timeoutMs: 20_000,
      message: "replica back",
    });
    // Past its retries the consumer exits without committing, and Kubernetes would restart it.
    const exited = await Promise.race([consumer.exited.then(() => true), sleep(1000).then(() => false)]);
    if (exited) consumer = await startConsumer();
    await waitFor(async () => (await committed()) === 2, {
      timeoutMs: 90_000,
      message: "second offset committed with the replica back",
    });
    expect(await queue.getWaitingCount()).toBe(2);
    await consumer.stop();
  });
});
