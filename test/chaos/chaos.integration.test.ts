import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createDeliveryQueues,
  listDeadLetters,
  replayDeadLetters,
  type DeliveryQueues,
} from "@handoff-sync/queue";
import { deliveryDedupId, deliveryJobId } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient, slotOf, type HandoffStore } from "@handoff-sync/store";
import {
  freePort,
  redisEnv,
  startRedisCluster,
  startService,
  testRedisTarget,
  uniqueName,
  waitFor,
  type RunningService,
} from "@handoff-sync/testing";
import { QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { Kafka, logLevel, Partitioners, type Admin } from "kafkajs";
import { afterEach, describe, expect, inject, it } from "vitest";
import {
  CHAOS_SECRETS,
  misbehave,
  misbehaveInBatches,
  rateLimitBurst,
  startChaosCrms,
  type ChaosCrms,
} from "./crms.js";
import {
  expectedFinal,
  reconcile,
  verdictLine,
  type DeadLetterEvidence,
  type Evidence,
  type ExpectedHandoff,
  type JudgeOptions,
  type RejectionEvidence,
  type Verdict,
} from "./oracle.js";
import { makePlan, makeReturnPlan, seededRandom, type Plan } from "./plan.js";

/** The headers the consumer stamps on a rejected record (docs/event-contract.md). */
const REJECTION_HEADERS = {
  partition: "handoff-sync-source-partition",
  offset: "handoff-sync-source-offset",
} as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Past the services' own shutdown timeout (28 s), after which they exit 1 by themselves. */
const SERVICE_STOP_BOUND_MS = 35_000;
/** The longest one cleanup of a scenario may take before the next runs regardless. */
const CLEANUP_BOUND_MS = 60_000;

/** `consumer` and `worker` (plus `worker-b`) by default; a layout names its own (`consumer-2`, `worker-servicenow`). */
type Role = string;

interface Stack {
  readonly topic: string;
  readonly rejectedTopic: string;
  readonly groupId: string;
  readonly prefix: string;
  readonly kafka: Kafka;
  readonly env: Record<string, string>;
  readonly services: Map<Role, RunningService>;
  /** Every process the stack ran, killed and replaced ones too, with its output: evidence when a run fails. */
  readonly history: readonly { readonly role: Role; readonly service: RunningService }[];
  restart(role: Role): Promise<void>;
  /** Starts a role the stack did not have yet (a process added mid-stream). */
  add(role: Role, spec: RoleProcess): Promise<void>;
  /** Stops a role for good (SIGTERM, as a scale-down does): it is not restarted. */
  remove(role: Role): Promise<void>;
  stop(): Promise<void>;
}

interface StackOptions {
  /** Worker processes serving every destination side by side (1 or 2). */
  readonly workers: 1 | 2;
  readonly env?: Record<string, string>;
  /** `redisUrl` is a seed node of a Redis Cluster (REDIS_CLUSTER=1 runs). */
  readonly redisCluster?: boolean;
  /** Partitions of the input topic; 4 by default. */
  readonly partitions?: number;
  /** The processes to run instead of one consumer and `workers` workers, with env of their own. */
  readonly layout?: Readonly<Record<Role, RoleProcess>>;
}

interface RoleProcess {
  readonly service: "consumer" | "worker";
  readonly env?: Record<string, string>;
}

/** Short locks and quick takeovers, so a stalled worker loses its jobs within seconds. */
const TAKEOVER_ENV = {
  WORKER_LOCK_DURATION_MS: "4000",
  WORKER_STALLED_INTERVAL_MS: "2000",
  WORKER_MAX_STALLED_COUNT: "10",
};

async function startStack(redisUrl: string, crms: ChaosCrms, options: StackOptions): Promise<Stack> {
  const topic = uniqueName("chaos-events");
  const rejectedTopic = `${topic}.dlq`;
  const groupId = uniqueName("chaos-group");
  const prefix = uniqueName("chaos");
  const dir = await mkdtemp(join(tmpdir(), "handoff-sync-chaos-"));
  const configPath = join(dir, "destinations.yaml");
  await writeFile(
    configPath,
    [
      "version: 1",
      "source:",
      `  topic: ${topic}`,
      `  rejected_topic: ${rejectedTopic}`,
      "states:",
      "  customer_refund: initiated",
      "  complaint_escalation: initiated",
      "  successfully_identified: initiated",
      "destinations:",
      crms.configYaml(),
      "",
    ].join("\n"),
  );
  const kafka = new Kafka({
    clientId: "chaos",
    brokers: inject("kafkaBrokers").split(","),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic, numPartitions: options.partitions ?? 4 },
      { topic: rejectedTopic, numPartitions: 1 },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const env: Record<string, string> = {
    KAFKA_BROKERS: inject("kafkaBrokers"),
    ...redisEnv(redisUrl, options.redisCluster ?? false),
    REDIS_PREFIX: prefix,
    KAFKA_GROUP_ID: groupId,
    HANDOFF_SYNC_CONFIG: configPath,
    // CHAOS_LOG_LEVEL=info keeps every line of the services for the evidence a failed run leaves.
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? "warn",
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
    WORKER_SWEEP_INTERVAL_MS: "2000",
    WORKER_DRAIN_TIMEOUT_MS: "2000",
    ...CHAOS_SECRETS,
    ...options.env,
  };
  const layout = new Map<Role, RoleProcess>(
    Object.entries(
      options.layout ??
        (options.workers === 2
          ? {
              consumer: { service: "consumer" },
              worker: { service: "worker" },
              "worker-b": { service: "worker" },
            }
          : { consumer: { service: "consumer" }, worker: { service: "worker" } }),
    ),
  );
  const roles: Role[] = [...layout.keys()];
  const services = new Map<Role, RunningService>();
  const ports = new Map<Role, number>();
  for (const role of roles) ports.set(role, await freePort());
  const replaced = new Set<RunningService>();
  const history: { role: Role; service: RunningService }[] = [];
  let stopped = false;
  const start = async (role: Role): Promise<void> => {
    const spec = layout.get(role) ?? { service: "worker" };
    ports.set(role, ports.get(role) ?? (await freePort()));
    const service = await startService(
      spec.service,
      { ...env, ...spec.env },
      {
        port: ports.get(role) ?? 0,
        readyTimeoutMs: 90_000,
      },
    );
    services.set(role, service);
    history.push({ role, service });
    // Restarts a service that died on its own, as Kubernetes would.
    void service.exited.then(async () => {
      if (stopped || replaced.has(service) || services.get(role) !== service) return;
      replaced.add(service);
      await start(role);
    });
  };
  const restart = async (role: Role): Promise<void> => {
    const old = services.get(role);
    if (old) replaced.add(old);
    await start(role);
  };
  await Promise.all(roles.map(start));
  return {
    topic,
    rejectedTopic,
    groupId,
    prefix,
    kafka,
    env,
    services,
    history,
    restart,
    add: async (role, spec) => {
      layout.set(role, spec);
      await start(role);
    },
    remove: async (role) => {
      const service = services.get(role);
      if (!service) throw new Error(`${role} is not running`);
      replaced.add(service);
      services.delete(role);
      await service.stop();
    },
    stop: async () => {
      stopped = true;
      await Promise.all(
        [...services.entries()].map(async ([role, service]) => {
          // A service exits on its own within its shutdown timeout; one that does not is killed,
          // and says so with its last lines, so a hang in shutdown shows in the run's output.
          const exited = await Promise.race([
            service.stop(),
            sleep(SERVICE_STOP_BOUND_MS).then(() => "hung"),
          ]);
          if (exited !== "hung") return;
          console.log(
            `chaos: ${role} did not exit ${SERVICE_STOP_BOUND_MS} ms after SIGTERM; killed\n${service.lines.slice(-20).join("\n")}`,
          );
          await service.stop("SIGKILL");
        }),
      );
    },
  };
}

/** Kills a service -9 and starts another in its place; `afterExit` runs once the old one is gone. */
async function killAndRestart(
  stack: Stack,
  role: Role,
  afterExit: () => void = () => undefined,
): Promise<void> {
  const service = stack.services.get(role);
  if (!service) throw new Error(`${role} is not running`);
  const restarting = stack.restart(role);
  service.process.kill("SIGKILL");
  await service.exited;
  afterExit();
  await restarting;
}

async function produce(
  stack: Stack,
  plan: Plan,
  onProgress: (sent: number) => Promise<void>,
  burst: { size: number } = { size: 40 },
): Promise<void> {
  const producer = stack.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const records = plan.events.map((e) => ({ key: e.kafkaKey, value: e.payload }));
  const invalidEvery = Math.max(1, Math.floor(records.length / plan.invalid.length));
  let sent = 0;
  let invalidSent = 0;
  for (let i = 0; i < records.length;) {
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
    await producer.send({
      topic: stack.topic,
      messages: plan.invalid.slice(invalidSent).map((value) => ({ key: "invalid", value })),
    });
  }
  await producer.disconnect();
}

/** Every record on the rejected-events topic, with the source offset the consumer stamped on it. */
async function readRejected(stack: Stack, expectedAtLeast: number): Promise<RejectionEvidence[]> {
  const admin = stack.kafka.admin();
  await admin.connect();
  const total = async (): Promise<number> =>
    (await admin.fetchTopicOffsets(stack.rejectedTopic)).reduce(
      (sum, p) => sum + Number(p.high) - Number(p.low),
      0,
    );
  await waitFor(async () => (await total()) >= expectedAtLeast, {
    timeoutMs: 30_000,
    message: "rejections",
  }).catch(() => undefined);
  const count = await total();
  await admin.disconnect();
  const rejected: RejectionEvidence[] = [];
  if (count === 0) return rejected;
  const consumer = stack.kafka.consumer({ groupId: uniqueName("chaos-rejected-reader") });
  await consumer.connect();
  await consumer.subscribe({ topic: stack.rejectedTopic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      rejected.push({
        value: message.value?.toString("utf8") ?? "",
        sourcePartition: message.headers?.[REJECTION_HEADERS.partition]?.toString() ?? "?",
        sourceOffset: message.headers?.[REJECTION_HEADERS.offset]?.toString() ?? "?",
      });
      return Promise.resolve();
    },
  });
  await waitFor(() => rejected.length >= count, {
    timeoutMs: 30_000,
    message: "read the rejected-events topic",
  }).finally(() => consumer.disconnect());
  return rejected;
}

/**
 * Records the consumer has applied and enqueued (its own counter, since it started with the group)
 * against the group's committed offsets: when the first is ahead, applied events have uncommitted
 * offsets.
 */
async function consumedVersusCommitted(
  stack: Stack,
  admin: Admin,
): Promise<{ consumed: number; committed: number }> {
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

const DESTINATIONS = ["webhook", "zendesk", "servicenow", "hubspot"] as const;

interface Operator {
  readonly queues: DeliveryQueues;
  readonly store: HandoffStore;
  /** Jobs another worker took over after their lock expired, as BullMQ reports them. */
  readonly takenOver: () => number;
  /** Replays every dead letter of every destination, as an SRE does once a cause is fixed. */
  replayAll(): Promise<number>;
  deadLetters(): Promise<DeadLetterEvidence[]>;
  /** One line on a handoff's delivery to a destination: snapshot, ledger, fence, write claim, jobs. */
  explain(destination: string, keys: readonly string[]): Promise<string>;
  /** Job counts by state, per destination queue. */
  counts(): Promise<Record<string, Record<string, number>>>;
  /** Failed jobs per destination queue, counted by their failure reason. */
  failedReasons(): Promise<Record<string, Record<string, number>>>;
  close(): Promise<void>;
}

/** What an SRE has: the queues, the store, and BullMQ's own events. */
async function openOperator(stack: Stack, redisUrl: string, cluster = false): Promise<Operator> {
  const redis = createRedisClient(testRedisTarget(redisUrl, cluster), { maxRetriesPerRequest: null });
  const events = createRedisClient(testRedisTarget(redisUrl, cluster), { maxRetriesPerRequest: null });
  const store = createHandoffStore({ redis, prefix: stack.prefix, retentionMs: 0 });
  const policy = { attempts: 40, base_delay_ms: 200, max_delay_ms: 3000 };
  const queues = createDeliveryQueues({
    connection: redis,
    prefix: stack.prefix,
    destinations: Object.fromEntries(DESTINATIONS.map((d) => [d, policy])),
  });
  let stalled = 0;
  const listeners = queues.all().map((queue) => {
    const listener = new QueueEvents(queue.deliver.name, {
      connection: events.duplicate(),
      prefix: queue.deliver.opts.prefix ?? "bull",
    });
    listener.on("stalled", () => {
      stalled++;
    });
    return listener;
  });
  await Promise.all(listeners.map((l) => l.waitUntilReady()));
  return {
    queues,
    store,
    takenOver: () => stalled,
    replayAll: async () => {
      let replayed = 0;
      for (const queue of queues.all())
        replayed += (await replayDeadLetters(queue, store, { filter: {} }, { dryRun: false })).length;
      return replayed;
    },
    deadLetters: async () => {
      const all: DeadLetterEvidence[] = [];
      for (const queue of queues.all()) {
        for (const entry of (await listDeadLetters(queue.dead, {}, { limit: 100_000 })).entries)
          all.push({ destination: entry.destination, key: entry.key, version: entry.version });
      }
      return all;
    },
    explain: async (destination, keys) => {
      let key: string | undefined;
      for (const value of keys)
        key ??=
          (await store.findKey({ kind: "shared_id", value })) ?? (await store.findKey({ kind: "id", value }));
      if (key === undefined) return `${destination}: not in the store`;
      const queue = queues.get(destination);
      const claimKey = store.keys.writeClaim(key, destination);
      const [snapshot, ledger, fence, claim, claimTtl, attempts] = await Promise.all([
        store.get(key),
        store.getDelivery(key, destination),
        redis.hget(store.keys.fence(key), destination),
        redis.get(claimKey),
        redis.pttl(claimKey),
        store.getAttempts(key, destination),
      ]);
      const jobs: string[] = [];
      for (let version = 1; version <= (snapshot?.version ?? 0); version++) {
        const job = await queue.deliver.getJob(deliveryJobId(key, version));
        if (job === undefined) continue;
        const lock = await redis.get(`${queue.deliver.toKey(job.id ?? "")}:lock`);
        jobs.push(
          `v${version}=${await job.getState()}(made=${job.attemptsMade} lock=${lock ?? "-"} failed=${job.failedReason || "-"})`,
        );
      }
      const dedup = deliveryDedupId(key);
      const [dedupJob, nextJob] = await Promise.all([
        redis.get(queue.deliver.toKey(`de:${dedup}`)),
        redis.hget(queue.deliver.toKey(`dn:${dedup}`), "jid"),
      ]);
      return [
        `${destination} key=${key} snapshot=v${snapshot?.version ?? "-"} ledger=v${ledger?.version ?? "-"}`,
        `fence=${fence ?? "-"} claim=${claim ?? "-"}(${claimTtl} ms)`,
        `dedup=${dedupJob ?? "-"} next=${nextJob ?? "-"} jobs=[${jobs.join(" ")}]`,
        `attempts=${JSON.stringify(attempts.slice(-3).map((a) => [a.outcome, a.status, a.error.slice(0, 120)]))}`,
      ].join(" ");
    },
    counts: async () => {
      const counts: Record<string, Record<string, number>> = {};
      for (const queue of queues.all()) counts[queue.destination] = await queue.deliver.getJobCounts();
      return counts;
    },
    failedReasons: async () => {
      const reasons: Record<string, Record<string, number>> = {};
      for (const queue of queues.all()) {
        const counted: Record<string, number> = {};
        for (const job of await queue.deliver.getFailed(0, 10_000)) {
          const reason = job.failedReason.slice(0, 80);
          counted[reason] = (counted[reason] ?? 0) + 1;
        }
        reasons[queue.destination] = counted;
      }
      return reasons;
    },
    close: async () => {
      await Promise.all(listeners.map((l) => l.close()));
      await queues.close();
      await Promise.all([redis.quit(), events.quit()]);
    },
  };
}

/**
 * Stops a worker (SIGSTOP: alive, holding its jobs and sockets, as in a long stall) with deliveries
 * in flight, long enough for its locks to expire and another worker to take its jobs, then lets
 * it go on where it was.
 */
async function stallWorker(stack: Stack, crms: ChaosCrms, operator: Operator, ms: number): Promise<number> {
  const worker = stack.services.get("worker-b");
  if (!worker) throw new Error("worker-b is not running");
  const before = operator.takenOver();
  // Slow answers (inside the timeout) keep both workers' slots busy, so the stopped one surely
  // has deliveries in flight, some of them between their last check and their write.
  let slow = true;
  for (const server of crms.all())
    server.faults.prepend({ fault: { kind: "delay", ms: 800 }, match: () => slow });
  await sleep(1500);
  worker.process.kill("SIGSTOP");
  slow = false;
  await sleep(ms);
  worker.process.kill("SIGCONT");
  return operator.takenOver() - before;
}

interface Expectations {
  readonly plan: Plan;
  readonly versionAbove?: ReadonlyMap<string, number>;
}

/** The handoffs a CRM does not hold at their final state yet, by CRM. */
function unsettled(
  crms: ChaosCrms,
  { plan, versionAbove }: Expectations,
): { readonly crm: string; readonly expected: ExpectedHandoff }[] {
  const final = [...expectedFinal(plan).values()];
  return crms.views().flatMap((crm) =>
    final
      .filter((expected) => {
        const floor = versionAbove?.get(expected.handoff);
        return !expected.keys.some((key) =>
          crm
            .recordsFor(key)
            .some(
              (r) =>
                r.state === expected.state &&
                (floor === undefined ? r.version === expected.versionsAdded : (r.version ?? 0) > floor),
            ),
        );
      })
      .map((expected) => ({ crm: crm.name, expected })),
  );
}

function settled(crms: ChaosCrms, expectations: Expectations): boolean {
  return unsettled(crms, expectations).length === 0;
}

/**
 * What Redis says about each handoff still missing when the settle time ran out: with the evidence
 * `judge` keeps, enough to tell a delivery that never happens from a slow drain.
 */
async function explainUnsettled(
  crms: ChaosCrms,
  operator: Operator,
  expectations: Expectations,
): Promise<void> {
  const missing = unsettled(crms, expectations);
  if (missing.length === 0) return;
  console.log(`chaos: ${missing.length} handoff(s) not at their final state when the settle time ran out`);
  for (const { crm, expected } of missing.slice(0, 20))
    console.log(
      `  ${expected.handoff} expected v${expected.versionsAdded} ${expected.state}: ${await operator.explain(crm, expected.keys)}`,
    );
  console.log(`  queues: ${JSON.stringify(await operator.counts())}`);
}

/** Writes every process's output and every CRM's write log to a directory, and says where. */
async function keepEvidence(stack: Stack, crms: ChaosCrms): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "handoff-sync-chaos-evidence-"));
  for (const [index, { role, service }] of stack.history.entries())
    await writeFile(join(dir, `${index}-${role}.log`), `${service.lines.join("\n")}\n`);
  const logs = {
    webhook: crms.webhook.writes,
    zendesk: crms.zendesk.writes,
    servicenow: crms.servicenow.writes,
    hubspot: crms.hubspot.writes,
  };
  for (const [name, log] of Object.entries(logs))
    await writeFile(
      join(dir, `writes-${name}.jsonl`),
      log
        .all()
        .map((w) => JSON.stringify(w))
        .join("\n"),
    );
  console.log(`  every process's output and every CRM's writes: ${dir}`);
}

/** Heals the CRMs, then waits for every handoff's final state everywhere, replaying dead letters as an SRE would. */
async function healAndSettle(
  crms: ChaosCrms,
  operator: Operator,
  expectations: Expectations,
): Promise<DeadLetterEvidence[]> {
  for (const server of crms.all()) {
    server.faults.clear();
    server.faults.releaseAll();
  }
  const deadline = Date.now() + 180_000;
  let lastReplay = Date.now();
  while (!settled(crms, expectations) && Date.now() < deadline) {
    if (Date.now() - lastReplay > 5000) {
      await operator.replayAll();
      lastReplay = Date.now();
    }
    await sleep(500);
  }
  await explainUnsettled(crms, operator, expectations);
  console.log(`chaos failed jobs: ${JSON.stringify(await operator.failedReasons())}`);
  return operator.deadLetters();
}

async function judge(
  scenario: string,
  plan: Plan,
  crms: ChaosCrms,
  evidence: Evidence,
  options: JudgeOptions & { readonly stack?: Stack; readonly operator?: Operator } = {},
): Promise<Verdict> {
  const verdict = reconcile(plan, crms.views(), evidence, options);
  console.log(verdictLine(scenario, verdict));
  // A job the queue failed as superseded still held its lock (a stale lock cannot move a job), so
  // no one else runs it: its delivery is lost unless a later version's job happens to make up for
  // it, which the verdict alone would not show.
  const failed = options.operator === undefined ? {} : await options.operator.failedReasons();
  const superseded = Object.entries(failed).flatMap(([destination, reasons]) =>
    Object.entries(reasons)
      .filter(([reason]) => reason.startsWith("delivery superseded"))
      .map(([reason, count]) => `${destination}: ${count} job(s) failed as "${reason}"`),
  );
  const problems = [...verdict.problems, ...superseded];
  if (problems.length > 0) console.log(problems.slice(0, 20).join("\n"));
  // CHAOS_KEEP_EVIDENCE=1 keeps it after a good run too.
  if (options.stack !== undefined && (problems.length > 0 || process.env.CHAOS_KEEP_EVIDENCE === "1"))
    await keepEvidence(options.stack, crms);
  expect({
    lost: verdict.lost,
    duplicates: verdict.duplicates,
    backward: verdict.backward,
    wrongData: verdict.wrongData,
  }).toEqual({ lost: 0, duplicates: 0, backward: 0, wrongData: 0 });
  expect(superseded).toEqual([]);
  return verdict;
}

describe("chaos: nothing lost, nothing twice, nothing backward", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  // Each scenario's stacks, CRMs and clusters stop before the next scenario starts, so no scenario
  // shares the machine with a finished one. A cleanup is bounded: one that hangs says so and the
  // others still run (services are killed -9 past their own shutdown deadline, see Stack.stop).
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      const started = Date.now();
      const outcome = await Promise.race([
        cleanup().then(
          () => "done",
          () => "failed",
        ),
        sleep(CLEANUP_BOUND_MS).then(() => "hung"),
      ]);
      const ms = Date.now() - started;
      if (outcome === "hung" || ms > 10_000)
        console.log(
          `chaos cleanup ${String(cleanup)} ${outcome === "hung" ? "hung, left behind after" : "took"} ${ms} ms`,
        );
    }
  }, 300_000);

  it("survives killed workers, a killed consumer, a stalled worker and live replays while CRMs misbehave", async () => {
    const seed = Date.now() % 100_000;
    console.log(`chaos seed ${seed}`);
    const plan = makePlan({ handoffs: 220, minEvents: 2000, run: String(seed), random: seededRandom(seed) });
    const crms = await startChaosCrms({ idempotencyTtlMs: 3000 });
    cleanups.push(() => crms.close());
    for (const server of crms.all()) misbehave(server);
    misbehaveInBatches(crms.hubspot);
    // Record-level refusals: dead letters an SRE replays while traffic still flows.
    crms.webhook.faults.add({
      fault: { kind: "status", status: 422, body: "Unprocessable" },
      probability: 0.03,
    });
    // Two workers side by side with short locks, and at 0.8 a forced lock loss: one worker stopped
    // past its lock while the other takes its jobs over (decisions 0013 and 0017).
    const stack = await startStack(inject("redisUrl"), crms, {
      workers: 2,
      env: TAKEOVER_ENV,
      redisCluster: inject("redisCluster"),
    });
    cleanups.push(() => stack.stop());
    const operator = await openOperator(stack, inject("redisUrl"), inject("redisCluster"));
    cleanups.push(() => operator.close());

    const total = plan.events.length + plan.invalid.length;
    const kills = { worker: 0, consumer: 0 };
    const live = { replayed: 0, takenOver: 0 };
    const pending: Promise<void>[] = [];
    const checkpoints: { at: number; run: () => Promise<void> }[] = [
      { at: 0.25, run: () => killWorkerMidWrite() },
      { at: 0.35, run: () => replayLive() },
      { at: 0.45, run: () => killConsumerMidBatch() },
      { at: 0.55, run: () => replayLive() },
      { at: 0.65, run: () => killWorkerMidWrite() },
      { at: 0.75, run: () => replayLive(true) },
    ];
    checkpoints.push({
      at: 0.8,
      run: () => {
        pending.push(
          (async () => {
            live.takenOver += await stallWorker(stack, crms, operator, 14_000);
          })(),
        );
        return Promise.resolve();
      },
    });
    const burst = { size: 40 };

    const replayLive = async (last = false): Promise<void> => {
      // The last live replay waits for a dead letter when none was replayed yet: a slower worker
      // (a loaded machine, a Redis Cluster run) may not have dead-lettered anything by then.
      if (last && live.replayed === 0)
        await waitFor(async () => (await operator.deadLetters()).length > 0, {
          timeoutMs: 60_000,
          message: "a dead letter to replay live",
        });
      live.replayed += await operator.replayAll();
    };
    // The worker dies while a CRM holds one of its writes unanswered; the CRM then applies it.
    const killWorkerMidWrite = async (): Promise<void> => {
      crms.servicenow.faults.prepend({
        fault: { kind: "hold" },
        times: 1,
        match: (r) => r.method === "POST" || r.method === "PATCH",
      });
      const held = await Promise.race([
        crms.servicenow.faults.waitForHeld(),
        sleep(30_000).then(() => {
          throw new Error(
            "no write in flight to kill the worker on (a kill that finds nothing in flight fails the run)",
          );
        }),
      ]);
      pending.push(
        (async () => {
          // Released as soon as the worker is dead, well inside its lock: the CRM applies the write
          // of a dead worker before another worker may take the job over, as a CRM that answers
          // in time does.
          await killAndRestart(stack, "worker", () => held.release());
          kills.worker++;
        })(),
      );
      await Promise.race([Promise.all(pending), sleep(100)]);
    };
    // The consumer dies while events it applied still have uncommitted offsets; production goes on meanwhile.
    const killConsumerMidBatch = (): Promise<void> => {
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
            {
              timeoutMs: 30_000,
              intervalMs: 1,
              message:
                "applied events with uncommitted offsets (a kill that finds nothing in flight fails the run)",
            },
          )
            .catch((error: unknown) => {
              throw new Error(
                `${String(error)}; last seen consumed ${last.consumed}, committed ${last.committed}`,
                { cause: error },
              );
            })
            .finally(() => admin.disconnect());
          expect(seen.consumed).toBeGreaterThan(seen.committed);
          await killAndRestart(stack, "consumer");
          kills.consumer++;
        })(),
      );
      return Promise.resolve();
    };

    let next = 0;
    await produce(
      stack,
      plan,
      async (sent) => {
        if (sent % 400 < 40) for (const server of crms.all()) rateLimitBurst(server, 8);
        // Big batches can pass several checkpoints at once: each still runs, in order.
        for (
          let checkpoint = checkpoints[next];
          checkpoint !== undefined && sent >= total * checkpoint.at;
          checkpoint = checkpoints[next]
        ) {
          next++;
          await checkpoint.run();
        }
      },
      burst,
    );
    await Promise.all(pending);
    expect(next).toBe(checkpoints.length);
    expect(kills).toEqual({ worker: 2, consumer: 1 });
    console.log(`chaos live: replayed=${live.replayed} taken_over=${live.takenOver}`);
    expect(live.replayed).toBeGreaterThan(0);
    expect(live.takenOver).toBeGreaterThan(0);

    const deadLetters = await healAndSettle(crms, operator, { plan });
    const verdict = await judge(
      "processes",
      plan,
      crms,
      { deadLetters, rejected: await readRejected(stack, plan.invalid.length) },
      { stack, operator },
    );
    expect(verdict.events).toBeGreaterThanOrEqual(2000);
    expect(plan.handoffs.length).toBeGreaterThanOrEqual(200);
  });

  it("survives Redis killed -9 mid-stream and restarted with its documented persistence", async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "handoff-sync-chaos-redis-"));
    // docs/guarantees.md: AOF with appendfsync always for no loss; noeviction.
    const redisArgs = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--maxmemory-policy",
      "noeviction",
      "--save",
      "",
    ];
    const startRedis = (): ChildProcess => spawn("redis-server", redisArgs, { stdio: "ignore" });
    let redis = startRedis();
    cleanups.push(() => Promise.resolve(redis.kill("SIGKILL")));
    const redisUrl = `redis://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        const probe = new Redis(redisUrl, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        try {
          await probe.connect();
          return (await probe.ping()) === "PONG";
        } finally {
          probe.disconnect();
        }
      },
      { message: "redis up" },
    );

    const seed = (Date.now() + 1) % 100_000;
    console.log(`chaos seed ${seed}`);
    const plan = makePlan({ handoffs: 80, minEvents: 600, run: `r${seed}`, random: seededRandom(seed) });
    const crms = await startChaosCrms({ idempotencyTtlMs: 3000 });
    cleanups.push(() => crms.close());
    for (const server of crms.all())
      server.faults.add({ fault: { kind: "status", status: 503 }, probability: 0.1 });
    const stack = await startStack(redisUrl, crms, { workers: 1 });
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

    const operator = await openOperator(stack, redisUrl);
    cleanups.push(() => operator.close());
    const deadLetters = await healAndSettle(crms, operator, { plan });
    await judge(
      "redis-restart",
      plan,
      crms,
      { deadLetters, rejected: await readRejected(stack, plan.invalid.length) },
      { stack, operator },
    );
  });

  it("loses nothing while consumers join and leave the group mid-stream and workers split over destinations", async () => {
    const seed = (Date.now() + 4) % 100_000;
    console.log(`chaos seed ${seed}`);
    const plan = makePlan({ handoffs: 120, minEvents: 1000, run: `g${seed}`, random: seededRandom(seed) });
    const crms = await startChaosCrms({ idempotencyTtlMs: 3000 });
    cleanups.push(() => crms.close());
    for (const server of crms.all())
      server.faults.add({ fault: { kind: "status", status: 503 }, probability: 0.1 });
    // Two consumers over eight partitions; the CRMs split over two worker Deployments
    // (WORKER_DESTINATIONS), the first replicated, the second a single process (with the batched
    // HubSpot destination beside ServiceNow).
    const crmWorker = { service: "worker", env: { WORKER_DESTINATIONS: "webhook,zendesk" } } as const;
    const stack = await startStack(inject("redisUrl"), crms, {
      workers: 1,
      redisCluster: inject("redisCluster"),
      partitions: 8,
      layout: {
        consumer: { service: "consumer" },
        "consumer-2": { service: "consumer" },
        "worker-crm-1": crmWorker,
        "worker-crm-2": crmWorker,
        "worker-servicenow": { service: "worker", env: { WORKER_DESTINATIONS: "servicenow,hubspot" } },
      },
    });
    cleanups.push(() => stack.stop());
    const admin = stack.kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const members = async (): Promise<number> =>
      (await admin.describeGroups([stack.groupId])).groups[0]?.members.length ?? 0;
    const membership: number[] = [];
    const total = plan.events.length + plan.invalid.length;
    const steps = [
      // A consumer joins under load: the group rebalances to three members.
      { at: 0.3, run: () => stack.add("consumer-3", { service: "consumer" }), members: 3 },
      // One leaves as a scale-down does (SIGTERM: it commits what it finished and leaves the group).
      { at: 0.65, run: () => stack.remove("consumer"), members: 2 },
    ];
    let next = 0;
    await produce(stack, plan, async (sent) => {
      for (let step = steps[next]; step !== undefined && sent >= total * step.at; step = steps[next]) {
        next++;
        await step.run();
        const expected = step.members;
        membership.push(
          await waitFor(async () => ((await members()) === expected ? expected : undefined), {
            timeoutMs: 60_000,
            message: `the group has ${expected} members`,
          }),
        );
      }
    });
    expect(membership).toEqual([3, 2]);

    const operator = await openOperator(stack, inject("redisUrl"), inject("redisCluster"));
    cleanups.push(() => operator.close());
    const deadLetters = await healAndSettle(crms, operator, { plan });
    const verdict = await judge(
      "rebalance",
      plan,
      crms,
      { deadLetters, rejected: await readRejected(stack, plan.invalid.length) },
      { stack, operator },
    );
    expect(verdict.events).toBeGreaterThanOrEqual(1000);
  });

  it("survives a Redis Cluster master killed -9 under load, with WAIT for a replica as documented", async () => {
    // docs/scaling.md#redis-cluster: a replica per master and REDIS_WAIT_REPLICAS=1 on the consumer.
    // CHAOS_FAILOVER_WAIT=0 runs the weaker setting (no WAIT) to measure its loss; it asserts nothing then.
    const waitReplicas = process.env.CHAOS_FAILOVER_WAIT ?? "1";
    const cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    cleanups.push(() => cluster.stop());
    const seed = (Date.now() + 3) % 100_000;
    console.log(`chaos seed ${seed}`);
    const plan = makePlan({ handoffs: 80, minEvents: 600, run: `f${seed}`, random: seededRandom(seed) });
    const crms = await startChaosCrms({ idempotencyTtlMs: 3000 });
    cleanups.push(() => crms.close());
    for (const server of crms.all())
      server.faults.add({ fault: { kind: "status", status: 503 }, probability: 0.1 });
    const stack = await startStack(cluster.url, crms, {
      workers: 1,
      redisCluster: true,
      env: { REDIS_WAIT_REPLICAS: waitReplicas, REDIS_WAIT_TIMEOUT_MS: "2000" },
    });
    cleanups.push(() => stack.stop());

    // The master of the busiest queue (the webhook destination's) is the one that dies.
    const tag = `${stack.prefix}:{d:webhook}`;
    const victim = await cluster.masterOf(slotOf(tag));
    const lag: number[] = [];
    let killed = false;
    const total = plan.events.length + plan.invalid.length;
    await produce(stack, plan, async (sent) => {
      if (!killed && sent < total * 0.4) {
        // The replication round trip under this load: what an acknowledged write without WAIT
        // risks when its master dies (the loss window of the weaker setting).
        const probe = new Redis(victim.port, "127.0.0.1");
        for (let i = 0; i < 20; i++) {
          const started = process.hrtime.bigint();
          await probe.set(`${tag}:lag-probe`, String(i));
          await probe.wait(1, 1000);
          lag.push(Number(process.hrtime.bigint() - started) / 1e6);
        }
        probe.disconnect();
        return;
      }
      if (killed) return;
      killed = true;
      await victim.kill("SIGKILL");
      // Its replica takes over once the cluster deems it failed (cluster-node-timeout), then the
      // old master comes back as a replica, so WAIT 1 is satisfied again on that shard.
      await cluster.healthy(30_000);
      await victim.start();
      await cluster.healthy(30_000);
    });
    expect(killed).toBe(true);
    expect(await victim.role()).toBe("slave");
    const sorted = [...lag].sort((a, b) => a - b);
    const at = (q: number): string =>
      (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2);
    console.log(
      `failover: replication round trip p50=${at(0.5)}ms p99=${at(0.99)}ms max=${at(1)}ms (n=${sorted.length})`,
    );

    const operator = await openOperator(stack, cluster.url, true);
    cleanups.push(() => operator.close());
    const deadLetters = await healAndSettle(crms, operator, { plan });
    const rejected = await readRejected(stack, plan.invalid.length);
    if (waitReplicas === "0") {
      const verdict = reconcile(plan, crms.views(), { deadLetters, rejected });
      console.log(verdictLine("cluster-failover-no-wait", verdict));
      return;
    }
    await judge("cluster-failover", plan, crms, { deadLetters, rejected }, { stack, operator });
  });

  it("moves a handoff's versions on when it comes back after its retention ended", async () => {
    const retentionMs = 15_000;
    const seed = (Date.now() + 2) % 100_000;
    console.log(`chaos seed ${seed}`);
    const plan = makePlan({ handoffs: 40, minEvents: 150, run: `t${seed}`, random: seededRandom(seed) });
    const crms = await startChaosCrms({ idempotencyTtlMs: 3000 });
    cleanups.push(() => crms.close());
    const stack = await startStack(inject("redisUrl"), crms, {
      workers: 1,
      env: { HANDOFF_RETENTION_MS: String(retentionMs) },
    });
    cleanups.push(() => stack.stop());
    const operator = await openOperator(stack, inject("redisUrl"));
    cleanups.push(() => operator.close());

    await produce(stack, plan, () => Promise.resolve());
    await judge(
      "before-retention",
      plan,
      crms,
      {
        deadLetters: await healAndSettle(crms, operator, { plan }),
        rejected: await readRejected(stack, plan.invalid.length),
      },
      { stack, operator },
    );

    const back = makeReturnPlan(plan, { run: `t${seed}` });
    // What each CRM holds when the store has forgotten the handoff: the new lifetime must go above it.
    const floors = new Map<string, number>();
    for (const { handoff, keys } of back.handoffs) {
      const held = crms
        .views()
        .flatMap((crm) => keys.flatMap((key) => crm.recordsFor(key).map((r) => r.version ?? 0)));
      floors.set(handoff, Math.max(0, ...held));
    }
    await waitFor(
      async () =>
        (
          await Promise.all(
            back.handoffs.map(async ({ handoff }) => (await operator.store.get(handoff)) === undefined),
          )
        ).every(Boolean),
      {
        timeoutMs: retentionMs * 4,
        intervalMs: 1000,
        message: "every handoff's snapshot gone after its retention",
      },
    );
    await produce(stack, back, () => Promise.resolve());
    const deadLetters = await healAndSettle(crms, operator, { plan: back, versionAbove: floors });
    await judge(
      "returned-after-retention",
      back,
      crms,
      {
        deadLetters,
        rejected: (await readRejected(stack, plan.invalid.length + back.invalid.length)).filter((r) =>
          back.invalid.includes(r.value),
        ),
      },
      { versionAbove: floors, stack, operator },
    );
  });
});
