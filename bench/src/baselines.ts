import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { Partitioners, type Kafka } from "kafkajs";
import { Agent, request } from "undici";
import type { CrmFake } from "./crm-fake.js";
import { createEventSource } from "./events.js";
import { createTopics, deleteTopics, produceBurst } from "./kafka.js";
import { uniqueName } from "@handoff-sync/testing";

export interface Throughput {
  readonly events: number;
  readonly durationMs: number;
  /** Events per second. */
  readonly rate: number;
  /**
   * CPU seconds (user + system) the bench process spent per 1,000 events while measuring, for the
   * baselines that run in it: what a component costs measured alone, a floor for the pipeline's.
   */
  readonly cpuSecondsPer1000?: number;
}

function throughput(events: number, durationMs: number, cpu?: NodeJS.CpuUsage): Throughput {
  return {
    events,
    durationMs,
    rate: events / (durationMs / 1000),
    ...(cpu !== undefined ? { cpuSecondsPer1000: (cpu.user + cpu.system) / 1e6 / (events / 1000) } : {}),
  };
}

/** Waits until `done()` holds, polling; for counters the bench updates from callbacks. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const deadlineFor = (events: number): number => 60_000 + events * 20;

/**
 * (a) Raw BullMQ: `addBulk` in the consumer's batch size while a worker with the destination's
 * concurrency runs a no-op processor; from the first add to the last completion. Jobs carry a
 * delivery-sized payload, a job id and the pipeline's completed-job retention.
 */
export async function benchBullmq(
  redisUrl: string,
  options: { events: number; batch: number; concurrency: number },
): Promise<Throughput> {
  const prefix = uniqueName("bench-bullmq");
  const name = "deliver-bench";
  const producerConnection = new Redis(redisUrl, { maxRetriesPerRequest: 3, enableOfflineQueue: false });
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection: producerConnection, prefix });
  let completed = 0;
  let lastCompleted = 0;
  const worker = new Worker(name, () => Promise.resolve(), {
    connection: workerConnection,
    prefix,
    concurrency: options.concurrency,
  });
  worker.on("completed", () => {
    completed++;
    lastCompleted = performance.now();
  });
  worker.on("error", () => undefined);
  const payload = (n: number) => ({
    v: 1,
    key: `bench-${prefix}-${n}`,
    version: 1,
    event_id: `evt-${prefix}-${n}`,
    occurred_at: new Date().toISOString(),
    enqueued_at: new Date().toISOString(),
  });
  const opts = (n: number) => ({
    jobId: `bench.${prefix}.${n}.v1`,
    removeOnComplete: { age: 3600, count: 100_000 },
  });
  try {
    await worker.waitUntilReady();
    // Warm-up: the worker's connection and scripts are loaded before the clock starts.
    await queue.add(name, payload(-1), opts(-1));
    await until(() => completed === 1, 30_000, "the BullMQ warm-up job");
    completed = 0;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    for (let n = 0; n < options.events; n += options.batch) {
      const size = Math.min(options.batch, options.events - n);
      await queue.addBulk(
        Array.from({ length: size }, (_, i) => ({ name, data: payload(n + i), opts: opts(n + i) })),
      );
    }
    await until(() => completed >= options.events, deadlineFor(options.events), "BullMQ jobs to complete");
    return throughput(options.events, lastCompleted - started, process.cpuUsage(cpuBefore));
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    producerConnection.disconnect();
    workerConnection.disconnect();
  }
}

/** A topic holding `events` distinct handoffs before anyone reads it: each baseline drains a backlog. */
async function preloadedTopic(
  kafka: Kafka,
  label: string,
  events: number,
  partitions: number,
): Promise<string> {
  const topic = uniqueName(`bench-${label}`);
  await createTopics(kafka, [topic], partitions);
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    await produceBurst(producer, topic, createEventSource(label), events);
  } finally {
    await producer.disconnect();
  }
  return topic;
}

/** (b) Raw kafkajs: eachBatch over a preloaded topic, resolving each offset; first to last message. */
export async function benchKafkajs(
  kafka: Kafka,
  options: { events: number; partitions: number },
): Promise<Throughput> {
  const topic = await preloadedTopic(kafka, "kafkajs", options.events, options.partitions);
  const consumer = kafka.consumer({ groupId: uniqueName("bench-kafkajs"), allowAutoTopicCreation: false });
  let consumed = 0;
  let first = 0;
  let last = 0;
  let cpuBefore: NodeJS.CpuUsage | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitions,
      eachBatch: async (payload) => {
        if (first === 0) {
          first = performance.now();
          cpuBefore = process.cpuUsage();
        }
        for (const message of payload.batch.messages) {
          payload.resolveOffset(message.offset);
          consumed++;
        }
        last = performance.now();
        await payload.heartbeat();
      },
    });
    await until(
      () => consumed >= options.events,
      deadlineFor(options.events),
      "kafkajs to consume the topic",
    );
    return throughput(options.events, last - first, process.cpuUsage(cpuBefore));
  } finally {
    await consumer.disconnect();
    await deleteTopics(kafka, [topic]);
  }
}

/**
 * (c) What people write by hand: eachMessage over a preloaded topic, partitions consumed
 * concurrently, each event posted to the CRM over a keep-alive pool with the webhook adapter's
 * settings (one connection per unit of destination concurrency), no store and no queue.
 */
export async function benchNaive(
  kafka: Kafka,
  crm: CrmFake,
  options: { events: number; partitions: number; concurrency: number; timeoutMs: number },
): Promise<Throughput> {
  const topic = await preloadedTopic(kafka, "naive", options.events, options.partitions);
  const agent = new Agent({ connections: options.concurrency, connect: { timeout: options.timeoutMs } });
  const consumer = kafka.consumer({ groupId: uniqueName("bench-naive"), allowAutoTopicCreation: false });
  const url = new URL(crm.url);
  crm.reset();
  const cpuBefore = process.cpuUsage();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: options.partitions,
      eachMessage: async ({ message }) => {
        const response = await request(url, {
          method: "POST",
          dispatcher: agent,
          headers: { "content-type": "application/json" },
          body: message.value ?? "",
          signal: AbortSignal.timeout(options.timeoutMs),
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        });
        await response.body.dump();
        if (response.statusCode >= 300) throw new Error(`CRM answered ${response.statusCode}`);
      },
    });
    await crm.waitFor(options.events, deadlineFor(options.events));
    // The CRM fake runs in this process too, so this is the loop's cost and the fake's together.
    return throughput(
      options.events,
      crm.lastArrivalMs() - crm.firstArrivalMs(),
      process.cpuUsage(cpuBefore),
    );
  } finally {
    await consumer.disconnect();
    await agent.close();
    await deleteTopics(kafka, [topic]);
  }
}
