import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDeliveryQueues, listDeadLetters, replayDeadLetters } from "@handoff-sync/queue";
import { createHandoffStore } from "@handoff-sync/store";
import { freePort, startService, uniqueName, waitFor, type RunningService, type ServiceName } from "@handoff-sync/testing";
import { Redis } from "ioredis";
import { Kafka, logLevel, type Admin } from "kafkajs";
import { afterAll, describe, expect, inject, it } from "vitest";
import { CHAOS_SECRETS, misbehave, rateLimitBurst, startChaosCrms, type ChaosCrms } from "./crms.js";
import { expectedFinal, reconcile, verdictLine } from "./oracle.js";
import { makePlan, seededRandom, type Plan } from "./plan.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Stack {
  readonly topic: string;
  readonly rejectedTopic: string;
  readonly groupId: string;
  readonly prefix: string;
  readonly kafka: Kafka;
  readonly env: Record<string, string>;
  readonly services: Map<ServiceName, RunningService>;
  /** Restarts services that died on their own, as Kubernetes would. */
  readonly supervise: () => void;
  restart(name: "consumer" | "worker"): Promise<void>;
  stop(): Promise<void>;
}

async function startStack(redisUrl: string, crms: ChaosCrms): Promise<Stack> {
  const topic = uniqueName("chaos-events");
  const rejectedTopic = `${topic}.dlq`;
  const groupId = uniqueName("chaos-group");
  const prefix = uniqueName("chaos");
  const dir = await mkdtemp(join(tmpdir(), "handoff-sync-chaos-"));
  const configPath = join(dir, "destinations.yaml");
  await writeFile(
    configPath,
    ["version: 1", "source:", `  topic: ${topic}`, `  rejected_topic: ${rejectedTopic}`, "states:", "  customer_refund: initiated", "  complaint_escalation: initiated", "  successfully_identified: initiated", "destinations:", crms.configYaml(), ""].join("\n"),
  );
  const kafka = new Kafka({ clientId: "chaos", brokers: inject("kafkaBrokers").split(","), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }, { topic: rejectedTopic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const env: Record<string, string> = {
    KAFKA_BROKERS: inject("kafkaBrokers"),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    KAFKA_GROUP_ID: groupId,
    HANDOFF_SYNC_CONFIG: configPath,
    LOG_LEVEL: "warn",
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
    WORKER_SWEEP_INTERVAL_MS: "2000",
    WORKER_DRAIN_TIMEOUT_MS: "2000",
    ...CHAOS_SECRETS,
  };
  const services = new Map<ServiceName, RunningService>();
  const ports = new Map<ServiceName, number>([
    ["consumer", await freePort()],
    ["worker", await freePort()],
  ]);
  const expected = new Set<RunningService>();
  let stopped = false;
  const start = async (name: "consumer" | "worker"): Promise<RunningService> => {
    const service = await startService(name, env, { port: ports.get(name) ?? 0, readyTimeoutMs: 90_000 });
    services.set(name, service);
    return service;
  };
  const restart = async (name: "consumer" | "worker"): Promise<void> => {
    const old = services.get(name);
    if (old) expected.add(old);
    await start(name);
  };
  await Promise.all([start("consumer"), start("worker")]);
  const supervise = (): void => {
    for (const name of ["consumer", "worker"] as const) {
      const service = services.get(name);
      if (!service || expected.has(service)) continue;
      void service.exited.then(async () => {
        if (stopped || expected.has(service) || services.get(name) !== service) return;
        expected.add(service);
        await restart(name);
        supervise();
      });
    }
  };
  supervise();
  return {
    topic,
    rejectedTopic,
    groupId,
    prefix,
    kafka,
    env,
    services,
    supervise,
    restart: async (name) => {
      await restart(name);
      supervise();
    },
    stop: async () => {
      stopped = true;
      await Promise.all([...services.values()].map((s) => s.stop()));
    },
  };
}

/** Kills a service -9 and starts another in its place. */
async function killAndRestart(stack: Stack, name: "consumer" | "worker"): Promise<void> {
  const service = stack.services.get(name);
  if (!service) throw new Error(`${name} is not running`);
  const restarting = stack.restart(name);
  service.process.kill("SIGKILL");
  await service.exited;
  await restarting;
}

async function produce(stack: Stack, plan: Plan, onProgress: (sent: number) => Promise<void>, burst: { size: number } = { size: 40 }): Promise<void> {
  const producer = stack.kafka.producer();
  await producer.connect();
  const records = plan.events.map((e) => ({ key: e.kafkaKey, value: e.payload }));
  const invalidEvery = Math.floor(records.length / plan.invalid.length);
  let sent = 0;
  let invalidSent = 0;
  for (let i = 0; i < records.length; ) {
    const step = burst.size;
    const batch = records.slice(i, i + step);
    // Invalid records are spread through the stream, one per `invalidEvery` valid ones.
    while (invalidSent < plan.invalid.length && invalidSent * invalidEvery < i + step) {
      batch.push({ key: "invalid", value: plan.invalid[invalidSent] ?? "" });
      invalidSent++;
    }
    await producer.send({ topic: stack.topic, messages: batch });
    sent += batch.length;
    i += step;
    await onProgress(sent);
    await sleep(200);
  }
  if (invalidSent < plan.invalid.length) {
    await producer.send({ topic: stack.topic, messages: plan.invalid.slice(invalidSent).map((value) => ({ key: "invalid", value })) });
  }
  await producer.disconnect();
}

async function countRejected(stack: Stack): Promise<number> {
  const admin = stack.kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(stack.rejectedTopic);
  await admin.disconnect();
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/**
 * Records the consumer has applied and enqueued (its own counter, since it started with the group)
 * against the group's committed offsets: when the first is ahead, applied events have uncommitted
 * offsets.
 */
async function consumedVersusCommitted(stack: Stack, admin: Admin): Promise<{ consumed: number; committed: number }> {
  const port = stack.services.get("consumer")?.port;
  const [metrics, [group]] = await Promise.all([
    fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()),
    admin.fetchOffsets({ groupId: stack.groupId, topics: [stack.topic] }),
  ]);
  const consumed = metrics
    .split("\n")
    .filter((l) => l.startsWith("handoff_sync_events_consumed_total{"))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  const committed = (group?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  return { consumed, committed };
}

/** Heals the CRMs, waits for every handoff's final state everywhere, replays what was dead-lettered. */
async function healAndSettle(stack: Stack, crms: ChaosCrms, plan: Plan, redisUrl: string): Promise<{ deadLettered: Set<string> }> {
  for (const server of crms.all()) {
    server.faults.clear();
    server.faults.releaseAll();
  }
  const final = expectedFinal(plan);
  const settled = (): boolean =>
    crms.views().every((crm) =>
      [...final].every(([handoff, expected]) => crm.recordsFor(handoff).some((r) => r.version === expected.version && r.state === expected.state)),
    );
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = createHandoffStore({ redis, prefix: stack.prefix, retentionMs: 0 });
  const queues = createDeliveryQueues({ connection: redis, prefix: stack.prefix, destinations: { webhook: { attempts: 40, base_delay_ms: 200, max_delay_ms: 3000 }, zendesk: { attempts: 40, base_delay_ms: 200, max_delay_ms: 3000 }, servicenow: { attempts: 40, base_delay_ms: 200, max_delay_ms: 3000 } } });
  const deadLettered = new Set<string>();
  try {
    await waitFor(settled, { timeoutMs: 150_000, intervalMs: 1000, message: "every CRM at every handoff's latest state" }).catch(async () => {
      // What could not be delivered sits in a dead-letter queue with its reason: replay it now that the CRMs are healthy.
      for (const queue of queues.all()) {
        for (const entry of (await listDeadLetters(queue.dead, {}, { limit: 100_000 })).entries) deadLettered.add(entry.key);
        await replayDeadLetters(queue, store, { filter: {} }, { dryRun: false });
      }
      await waitFor(settled, { timeoutMs: 60_000, intervalMs: 1000, message: "settled after replay" }).catch(() => undefined);
    });
    for (const queue of queues.all()) {
      for (const entry of (await listDeadLetters(queue.dead, {}, { limit: 100_000 })).entries) deadLettered.add(entry.key);
    }
  } finally {
    await queues.close();
    await redis.quit();
  }
  return { deadLettered };
}

describe("chaos: nothing lost, nothing twice, nothing backward", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it("survives killed workers and a killed consumer while CRMs misbehave", async () => {
    const seed = Date.now() % 100_000;
    const plan = makePlan({ handoffs: 220, minEvents: 2000, run: String(seed), random: seededRandom(seed) });
    const crms = await startChaosCrms({ idempotencyTtlMs: 3000 });
    cleanups.push(() => crms.close());
    for (const server of crms.all()) misbehave(server);
    const stack = await startStack(inject("redisUrl"), crms);
    cleanups.push(() => stack.stop());

    const total = plan.events.length + plan.invalid.length;
    const kills = { worker: 0, consumer: 0 };
    const pending: Promise<void>[] = [];
    let next = 0;
    const checkpoints = [0.25, 0.45, 0.65];
    const burst = { size: 40 };
    await produce(stack, plan, async (sent) => {
      if (sent % 400 < 40) for (const server of crms.all()) rateLimitBurst(server, 8);
      const checkpoint = checkpoints[next];
      if (checkpoint === undefined || sent < total * checkpoint) return;
      next++;
      if (checkpoint === 0.45) {
        // The consumer dies while events it applied still have uncommitted offsets; production goes on meanwhile.
        pending.push(
          (async () => {
            let last = { consumed: 0, committed: 0 };
            const admin = stack.kafka.admin();
            await admin.connect();
            // Bigger batches from here on: each takes longer to apply before its offsets are committed.
            burst.size = 400;
            const seen = await waitFor(
              async () => {
                last = await consumedVersusCommitted(stack, admin);
                return last.consumed > last.committed ? last : undefined;
              },
              { timeoutMs: 30_000, intervalMs: 1, message: "applied events with uncommitted offsets (a kill that finds nothing in flight fails the run)" },
            )
              .catch((error: unknown) => {
                throw new Error(`${String(error)}; last seen consumed ${last.consumed}, committed ${last.committed}`, { cause: error });
              })
              .finally(() => admin.disconnect());
            expect(seen.consumed).toBeGreaterThan(seen.committed);
            await killAndRestart(stack, "consumer");
            kills.consumer++;
          })(),
        );
        return;
      }
      // The worker dies while a CRM holds one of its writes unanswered; the CRM then applies it.
      crms.servicenow.faults.prepend({ fault: { kind: "hold" }, times: 1, match: (r) => r.method === "POST" || r.method === "PATCH" });
      const held = await Promise.race([
        crms.servicenow.faults.waitForHeld(),
        sleep(30_000).then(() => {
          throw new Error("no write in flight to kill the worker on (a kill that finds nothing in flight fails the run)");
        }),
      ]);
      pending.push(
        (async () => {
          await killAndRestart(stack, "worker");
          held.release();
          kills.worker++;
        })(),
      );
      await Promise.race([Promise.all(pending), sleep(100)]);
    }, burst);
    await Promise.all(pending);
    expect(kills).toEqual({ worker: 2, consumer: 1 });

    const { deadLettered } = await healAndSettle(stack, crms, plan, inject("redisUrl"));
    await waitFor(async () => (await countRejected(stack)) >= plan.invalid.length, { timeoutMs: 30_000, message: "rejections" }).catch(() => undefined);
    const verdict = reconcile(plan, crms.views(), deadLettered, await countRejected(stack));
    console.log(verdictLine("processes", verdict));
    if (verdict.problems.length > 0) console.log(verdict.problems.slice(0, 20).join("\n"));
    expect(verdict.events).toBeGreaterThanOrEqual(2000);
    expect(plan.handoffs.length).toBeGreaterThanOrEqual(200);
    expect({ lost: verdict.lost, duplicates: verdict.duplicates, backward: verdict.backward }).toEqual({ lost: 0, duplicates: 0, backward: 0 });
  });

  it("survives Redis killed -9 mid-stream and restarted with its documented persistence", async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "handoff-sync-chaos-redis-"));
    // docs/guarantees.md: AOF with appendfsync always for no loss; noeviction.
    const redisArgs = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction", "--save", ""];
    const startRedis = (): ChildProcess => spawn("redis-server", redisArgs, { stdio: "ignore" });
    let redis = startRedis();
    cleanups.push(() => Promise.resolve(redis.kill("SIGKILL")));
    const redisUrl = `redis://127.0.0.1:${port}`;
    await waitFor(async () => {
      const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await probe.connect();
        return (await probe.ping()) === "PONG";
      } finally {
        probe.disconnect();
      }
    }, { message: "redis up" });

    const seed = (Date.now() + 1) % 100_000;
    const plan = makePlan({ handoffs: 80, minEvents: 600, run: `r${seed}`, random: seededRandom(seed) });
    const crms = await startChaosCrms({ idempotencyTtlMs: 3000 });
    cleanups.push(() => crms.close());
    for (const server of crms.all()) server.faults.add({ fault: { kind: "status", status: 503 }, probability: 0.1 });
    const stack = await startStack(redisUrl, crms);
    cleanups.push(() => stack.stop());

    let killed = false;
    const total = plan.events.length + plan.invalid.length;
    await produce(stack, plan, async (sent) => {
      if (killed || sent < total * 0.4) return;
      killed = true;
      const exited = new Promise((resolve) => redis.once("exit", resolve));
      redis.kill("SIGKILL");
      await exited;
      await sleep(1500);
      redis = startRedis();
    });
    expect(killed).toBe(true);

    const { deadLettered } = await healAndSettle(stack, crms, plan, redisUrl);
    await waitFor(async () => (await countRejected(stack)) >= plan.invalid.length, { timeoutMs: 30_000, message: "rejections" }).catch(() => undefined);
    const verdict = reconcile(plan, crms.views(), deadLettered, await countRejected(stack));
    console.log(verdictLine("redis-restart", verdict));
    if (verdict.problems.length > 0) console.log(verdict.problems.slice(0, 20).join("\n"));
    expect({ lost: verdict.lost, duplicates: verdict.duplicates, backward: verdict.backward }).toEqual({ lost: 0, duplicates: 0, backward: 0 });
  });
});
