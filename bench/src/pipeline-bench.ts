import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { destinationQueueNames } from "@handoff-sync/queue";
import { DEMO_SECRET, uniqueName, type RunningService } from "@handoff-sync/testing";
import { Queue } from "bullmq";
import { Partitioners, type Kafka } from "kafkajs";
import type { CrmFake } from "./crm-fake.js";
import { createEventSource } from "./events.js";
import { createTopics, deleteTopics, produceBurst, produceOpenLoop } from "./kafka.js";
import { watchHeap, type HeapSample } from "./heap.js";
import { removePrefix } from "./prefix.js";
import { cpuSeconds, peakRssMiB, rssMiB } from "./proc.js";
import { startBenchService } from "./services.js";
import { readRedisCounters, redisCostBetween, type RedisCost } from "./redis-stats.js";
import { stageLatencies, type StageLatencies } from "./stages.js";
import { summariseLatency, type LatencySummary } from "./stats.js";
import type { Throughput } from "./baselines.js";

export interface PipelineSettings {
  readonly kafkaBrokers: string;
  readonly redisUrl: string;
  readonly events: number;
  readonly partitions: number;
  readonly concurrency: number;
  readonly rate: number;
  readonly openLoopSeconds: number;
  readonly lowRate: number;
  readonly crmLatencyMs: number;
  readonly scalingLatencyMs: number;
  readonly scalingEvents: number;
  readonly profileDir?: string;
  readonly progress: (message: string) => void;
}

export interface OpenLoopRun {
  readonly offeredRate: number;
  readonly achievedRate: number;
  readonly sent: number;
  /** False when the producer achieved less than 95% of the offered rate. */
  readonly valid: boolean;
  readonly latencyMs: LatencySummary;
}

/** An open loop of the pipeline, with where its time went (from the completed delivery jobs). */
export interface PipelineOpenLoop extends OpenLoopRun {
  readonly stages: StageLatencies;
}

export interface PipelineRun {
  /** Draining a preloaded backlog: first to last CRM arrival. */
  readonly throughput: Throughput;
  /** The same number of events sent at once into the running pipeline. */
  readonly saturation: { readonly throughput: Throughput; readonly latencyMs: LatencySummary };
  readonly openLoop: PipelineOpenLoop;
  /** The same at a low rate (`BENCH_LOW_RATE`), where latency is the pipeline's own, not queueing. */
  readonly openLoopLow: PipelineOpenLoop;
  /** Measured over the saturation burst, whose work is all the services did meanwhile. */
  readonly cpuSecondsPer1000: { readonly consumer: number; readonly worker: number; readonly total: number };
  /** The largest V8 heap of each service during the saturation burst (its /metrics, every 250 ms). */
  readonly heapUnderLoad: Readonly<Record<string, HeapSample>>;
  /** Redis commands and CPU over the saturation burst (`INFO` before and after), per 1,000 events. */
  readonly redis: RedisCost;
  readonly peakRssMiB: Readonly<Record<string, number>>;
  /** Resident set size of each service once ready, before any event: what load adds is the difference. */
  readonly startRssMiB: Readonly<Record<string, number>>;
  readonly scaling?: {
    readonly crmLatencyMs: number;
    readonly oneWorker: Throughput;
    readonly twoWorkers: Throughput;
    readonly ratio: number;
  };
  /** Requests the CRM fake received beyond one per handoff (at-least-once redeliveries). */
  readonly duplicates: number;
}

const throughputBetween = (events: number, fromMs: number, toMs: number): Throughput => ({
  events,
  durationMs: toMs - fromMs,
  rate: events / ((toMs - fromMs) / 1000),
});

/** Polls `done` until it holds. */
async function until(done: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const deadlineFor = (events: number, perEventMs = 20): number => 60_000 + events * perEventMs;

async function writeConfig(dir: string, topic: string, crmUrl: string, concurrency: number): Promise<string> {
  const path = join(dir, "destinations.yaml");
  await writeFile(
    path,
    [
      "version: 1",
      "source:",
      `  topic: ${topic}`,
      `  rejected_topic: ${topic}.dlq`,
      "destinations:",
      "  crm:",
      "    type: webhook",
      `    url: ${crmUrl}`,
      "    secret: env:BENCH_WEBHOOK_SECRET",
      "    allow_private_network: true",
      `    concurrency: ${concurrency}`,
      "    timeout_ms: 5000",
      "",
    ].join("\n"),
  );
  return path;
}

/** Services start in this order: the consumer, the worker, then the second worker of the scaling phase. */
const serviceLabel = (index: number): string =>
  index === 0 ? "consumer" : index === 1 ? "worker" : `worker${index}`;

/**
 * (d) The full pipeline: consumer and worker started from their production entry points as child
 * processes, delivering to the CRM fake. Phases, in order: drain a preloaded backlog (throughput),
 * an open-loop producer at a constant rate (latency), a burst into the running pipeline
 * (saturation latency, CPU), then one worker against two at a slow CRM (scaling).
 */
export async function benchPipeline(
  kafka: Kafka,
  crm: CrmFake,
  settings: PipelineSettings,
): Promise<PipelineRun> {
  const topic = uniqueName("bench-pipeline");
  const prefix = uniqueName("bench");
  const queueNames = destinationQueueNames(prefix, "crm");
  const dir = await mkdtemp(join(tmpdir(), "handoff-sync-bench-"));
  const source = createEventSource("pipeline");
  const services: RunningService[] = [];
  const startRss: Record<string, number> = {};
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  let duplicates = 0;
  const settle = (): void => {
    duplicates += crm.requests() - crm.received();
    crm.reset();
  };
  crm.setLatency(settings.crmLatencyMs);
  crm.reset();
  // The delivery queue, read (never written) to see where the open loops' time went.
  const deliverQueue = new Queue(queueNames.deliver, {
    connection: { url: settings.redisUrl, maxRetriesPerRequest: 3 },
    prefix: queueNames.prefix,
  });
  try {
    await createTopics(kafka, [topic], settings.partitions);
    await createTopics(kafka, [`${topic}.dlq`], 1);
    await producer.connect();
    const env: Record<string, string> = {
      KAFKA_BROKERS: settings.kafkaBrokers,
      REDIS_URL: settings.redisUrl,
      REDIS_PREFIX: prefix,
      KAFKA_GROUP_ID: uniqueName("bench-consumer"),
      KAFKA_PARTITIONS_CONCURRENCY: String(settings.partitions),
      KAFKA_CREATE_TOPICS: "false",
      HANDOFF_SYNC_CONFIG: await writeConfig(dir, topic, crm.url, settings.concurrency),
      BENCH_WEBHOOK_SECRET: DEMO_SECRET,
      LOG_LEVEL: "info",
    };
    const start = async (name: "consumer" | "worker"): Promise<RunningService> => {
      const service = await startBenchService(name, env, {
        dir: settings.profileDir,
        name: `${name}-${prefix}-${services.length}`,
      });
      startRss[serviceLabel(services.length)] = rssMiB(service.process.pid ?? 0);
      services.push(service);
      return service;
    };

    settings.progress(`pipeline: preloading ${settings.events} events, starting consumer and worker`);
    await produceBurst(producer, topic, source, settings.events);
    const consumer = await start("consumer");
    const worker = await start("worker");
    await crm.waitFor(settings.events, deadlineFor(settings.events));
    const throughput = throughputBetween(settings.events, crm.firstArrivalMs(), crm.lastArrivalMs());
    settings.progress(
      `pipeline: drained ${settings.events} in ${Math.round(throughput.durationMs)} ms (${Math.round(throughput.rate)}/s)`,
    );
    settle();

    const openLoop = async (rate: number): Promise<PipelineOpenLoop> => {
      settings.progress(`pipeline: open loop at ${rate}/s for ${settings.openLoopSeconds} s`);
      const loopStart = Date.now();
      const open = await produceOpenLoop(producer, topic, source, rate, settings.openLoopSeconds);
      const loopEnd = Date.now();
      await crm.waitFor(open.sent, deadlineFor(open.sent));
      const latencyMs = summariseLatency(crm.latencies());
      // Read once the services are idle: the completed jobs of this loop's events, not the others'.
      await until(
        async () => (await deliverQueue.getActiveCount()) === 0,
        deadlineFor(open.sent),
        "the loop's jobs to complete",
      );
      const stages = stageLatencies(await deliverQueue.getCompleted(0, -1), loopStart, loopEnd);
      const valid = open.achievedRate >= 0.95 * open.offered;
      settings.progress(
        `pipeline: open loop achieved ${Math.round(open.achievedRate)}/s${valid ? "" : " (INVALID)"}, p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms`,
      );
      settle();
      return {
        offeredRate: open.offered,
        achievedRate: open.achievedRate,
        sent: open.sent,
        valid,
        latencyMs,
        stages,
      };
    };
    // The low rate first: at 1,000/s a pipeline that falls behind would still be catching up.
    const openLoopLow = await openLoop(settings.lowRate);
    const openLoopHigh = await openLoop(settings.rate);

    settings.progress(`pipeline: saturation burst of ${settings.events}`);
    const cpuBefore = {
      consumer: cpuSeconds(consumer.process.pid ?? 0),
      worker: cpuSeconds(worker.process.pid ?? 0),
    };
    const redisBefore = await readRedisCounters(settings.redisUrl);
    const heapWatches = { consumer: watchHeap(consumer.port), worker: watchHeap(worker.port) };
    const burstStart = Date.now();
    await produceBurst(producer, topic, source, settings.events);
    await crm.waitFor(settings.events, deadlineFor(settings.events));
    const heapUnderLoad = {
      consumer: await heapWatches.consumer.stop(),
      worker: await heapWatches.worker.stop(),
    };
    const redis = redisCostBetween(redisBefore, await readRedisCounters(settings.redisUrl), settings.events);
    const cpuConsumer = cpuSeconds(consumer.process.pid ?? 0) - cpuBefore.consumer;
    const cpuWorker = cpuSeconds(worker.process.pid ?? 0) - cpuBefore.worker;
    const per1000 = 1000 / settings.events;
    const saturation = {
      throughput: throughputBetween(settings.events, burstStart, crm.lastArrivalMs()),
      latencyMs: summariseLatency(crm.latencies()),
    };
    settle();

    let scaling: PipelineRun["scaling"];
    if (settings.scalingEvents > 0) {
      crm.setLatency(settings.scalingLatencyMs);
      const deliver = new Queue(queueNames.deliver, {
        connection: { url: settings.redisUrl, maxRetriesPerRequest: 3 },
        prefix: queueNames.prefix,
      });
      // The queue is filled while paused and then released, so the workers, not the consumer
      // feeding them, set the pace.
      const measureWorkers = async (workers: number): Promise<Throughput> => {
        await deliver.pause();
        await produceBurst(producer, topic, source, settings.scalingEvents);
        await until(
          async () => (await deliver.getJobCountByTypes("wait")) >= settings.scalingEvents,
          deadlineFor(settings.scalingEvents),
          "the consumer to enqueue",
        );
        settings.progress(
          `pipeline: ${settings.scalingEvents} queued jobs at ${settings.scalingLatencyMs} ms CRM latency, ${workers} worker(s)`,
        );
        await deliver.resume();
        await crm.waitFor(settings.scalingEvents, deadlineFor(settings.scalingEvents, 100));
        const result = throughputBetween(settings.scalingEvents, crm.firstArrivalMs(), crm.lastArrivalMs());
        settle();
        return result;
      };
      try {
        const oneWorker = await measureWorkers(1);
        await start("worker");
        const twoWorkers = await measureWorkers(2);
        scaling = {
          crmLatencyMs: settings.scalingLatencyMs,
          oneWorker,
          twoWorkers,
          ratio: twoWorkers.rate / oneWorker.rate,
        };
        settings.progress(
          `pipeline: one worker ${Math.round(oneWorker.rate)}/s, two ${Math.round(twoWorkers.rate)}/s`,
        );
      } finally {
        await deliver.close();
      }
    }

    const peakRss: Record<string, number> = {};
    for (const [index, service] of services.entries())
      peakRss[serviceLabel(index)] = peakRssMiB(service.process.pid ?? 0);
    return {
      throughput,
      saturation,
      openLoop: openLoopHigh,
      openLoopLow,
      redis,
      heapUnderLoad,
      cpuSecondsPer1000: {
        consumer: cpuConsumer * per1000,
        worker: cpuWorker * per1000,
        total: (cpuConsumer + cpuWorker) * per1000,
      },
      peakRssMiB: peakRss,
      startRssMiB: startRss,
      ...(scaling !== undefined ? { scaling } : {}),
      duplicates,
    };
  } finally {
    crm.setLatency(settings.crmLatencyMs);
    await deliverQueue.close();
    await Promise.all(services.map((service) => service.stop()));
    await producer.disconnect();
    await deleteTopics(kafka, [topic, `${topic}.dlq`]);
    await removePrefix(settings.redisUrl, prefix);
    await rm(dir, { recursive: true, force: true });
  }
}
