import { cpus, loadavg, release, totalmem } from "node:os";
import { provisionInfra } from "@handoff-sync/testing";
import { Redis } from "ioredis";
import { benchBullmq, benchKafkajs, benchNaive, type Throughput } from "./baselines.js";
import { startCrmFake } from "./crm-fake.js";
import { benchKafka } from "./kafka.js";
import type { BenchOptions } from "./options.js";
import { benchPipeline, type PipelineRun } from "./pipeline-bench.js";
import { readRedisCounters, redisCostBetween, type RedisCost } from "./redis-stats.js";
import { median } from "./stats.js";

export { parseBenchOptions, type BenchOptions } from "./options.js";
export { formatReport } from "./report.js";

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly platform: string;
  readonly kernel: string;
  readonly node: string;
  readonly redis: string;
  readonly kafkaBrokers: string;
  /** One-minute load average when the bench started and ended: other work on the machine skews every number. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

export interface RunResult {
  readonly baselines: {
    readonly bullmq: Throughput;
    readonly kafkajs: Throughput;
    readonly naive: Throughput;
    /** Redis commands and CPU of (a) per 1,000 jobs: what BullMQ itself costs per job. */
    readonly bullmqRedis: RedisCost;
  };
  readonly pipeline: PipelineRun;
  readonly ratios: Ratios;
}

export interface Ratios {
  readonly pipelineToBullmq: number;
  readonly pipelineToKafkajs: number;
  readonly pipelineToNaive: number;
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly value: number;
  /** "invalid" when the measurement behind it does not count (open loop below 95% of its rate). */
  readonly status: "met" | "not met" | "invalid";
}

export interface BenchResult {
  readonly machine: Machine;
  readonly settings: Omit<BenchOptions, "profileDir" | "output" | "kafkaBrokers" | "redisUrl">;
  /** Medians over the runs. */
  readonly baselines: RunResult["baselines"];
  readonly pipeline: PipelineRun;
  readonly ratios: Ratios;
  readonly targets: readonly Target[];
  readonly runs: readonly RunResult[];
  readonly startedAt: string;
  readonly durationSeconds: number;
}

/** Medians leaf by leaf over results of one shape; a flag holds only when it held in every run. */
export function medianOf<T>(results: readonly T[]): T {
  const combine = (values: readonly unknown[]): unknown => {
    const first = values[0];
    if (typeof first === "number") return median(values.filter((v): v is number => typeof v === "number"));
    if (typeof first === "boolean") return values.every((v) => v === true);
    if (typeof first === "object" && first !== null) {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(first)) {
        out[key] = combine(
          values.map((v) =>
            typeof v === "object" && v !== null ? (v as Record<string, unknown>)[key] : undefined,
          ),
        );
      }
      return out;
    }
    return first;
  };
  return combine(results) as T;
}

function targetsOf(pipeline: PipelineRun, ratios: Ratios): Target[] {
  const status = (met: boolean): Target["status"] => (met ? "met" : "not met");
  const rss = Math.max(...Object.values(pipeline.peakRssMiB));
  const targets: Target[] = [
    {
      name: "pipeline throughput / raw BullMQ",
      goal: ">= 0.6",
      value: ratios.pipelineToBullmq,
      status: status(ratios.pipelineToBullmq >= 0.6),
    },
    {
      name: `p99 latency at ${pipeline.openLoop.offeredRate} events/s (ms)`,
      goal: "<= 50",
      value: pipeline.openLoop.latencyMs.p99,
      status: pipeline.openLoop.valid ? status(pipeline.openLoop.latencyMs.p99 <= 50) : "invalid",
    },
    {
      name: `p99 latency at ${pipeline.openLoopLow.offeredRate} events/s (ms)`,
      goal: "<= 20",
      value: pipeline.openLoopLow.latencyMs.p99,
      status: pipeline.openLoopLow.valid ? status(pipeline.openLoopLow.latencyMs.p99 <= 20) : "invalid",
    },
    { name: "peak RSS per service (MiB)", goal: "<= 150", value: rss, status: status(rss <= 150) },
    {
      name: "CPU s per 1,000 events, consumer + worker",
      goal: "<= 0.25",
      value: pipeline.cpuSecondsPer1000.total,
      status: status(pipeline.cpuSecondsPer1000.total <= 0.25),
    },
  ];
  if (pipeline.scaling !== undefined) {
    targets.push({
      name: `two workers / one at ${pipeline.scaling.crmLatencyMs} ms CRM latency`,
      goal: ">= 1.8",
      value: pipeline.scaling.ratio,
      status: status(pipeline.scaling.ratio >= 1.8),
    });
  }
  return targets;
}

async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  try {
    const info = await redis.info("server");
    return /^redis_version:(.+)$/m.exec(info)?.[1]?.trim() ?? "unknown";
  } finally {
    redis.disconnect();
  }
}

/**
 * Runs every measurement `options.runs` times on Kafka and Redis from the options (or
 * provisioned as the tests do) and returns per-run results with their medians.
 */
export async function runBench(
  options: BenchOptions,
  io: { progress: (message: string) => void; env?: NodeJS.ProcessEnv } = { progress: () => undefined },
): Promise<BenchResult> {
  const started = Date.now();
  const infra = await provisionInfra({
    ...io.env,
    ...(options.kafkaBrokers !== undefined ? { KAFKA_BROKERS: options.kafkaBrokers } : {}),
    ...(options.redisUrl !== undefined ? { REDIS_URL: options.redisUrl } : {}),
  });
  io.progress(
    `infra: kafka ${infra.kafkaBrokers} (${infra.source.kafka}), redis ${infra.redisUrl} (${infra.source.redis})`,
  );
  const kafka = benchKafka(infra.kafkaBrokers, "handoff-sync-bench");
  const crm = await startCrmFake(options.crmLatencyMs);
  const cpuList = cpus();
  const timeoutMs = 5000;
  try {
    const machine: Machine = {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? "unknown",
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      platform: process.platform,
      kernel: release(),
      node: process.version,
      redis: await redisVersion(infra.redisUrl),
      kafkaBrokers: infra.kafkaBrokers,
      loadAverage: { start: loadavg()[0] ?? 0, end: 0 },
    };
    const runs: RunResult[] = [];
    for (let run = 1; run <= options.runs; run++) {
      const say = (message: string): void => io.progress(`run ${run}/${options.runs} ${message}`);
      say(`(a) BullMQ addBulk(${options.batch}) + no-op worker, ${options.events} jobs`);
      const redisBefore = await readRedisCounters(infra.redisUrl);
      const bullmq = await benchBullmq(infra.redisUrl, options);
      const bullmqRedis = redisCostBetween(
        redisBefore,
        await readRedisCounters(infra.redisUrl),
        options.events,
      );
      say(`(a) ${Math.round(bullmq.rate)}/s`);
      say(`(b) kafkajs eachBatch, ${options.events} messages`);
      const kafkajs = await benchKafkajs(kafka, options);
      say(`(b) ${Math.round(kafkajs.rate)}/s`);
      say(`(c) naive kafkajs -> HTTP, ${options.events} events`);
      crm.setLatency(options.crmLatencyMs);
      const naive = await benchNaive(kafka, crm, { ...options, timeoutMs });
      say(`(c) ${Math.round(naive.rate)}/s`);
      const pipeline = await benchPipeline(kafka, crm, {
        ...options,
        kafkaBrokers: infra.kafkaBrokers,
        redisUrl: infra.redisUrl,
        progress: (message) => say(`(d) ${message}`),
      });
      const ratios: Ratios = {
        pipelineToBullmq: pipeline.throughput.rate / bullmq.rate,
        pipelineToKafkajs: pipeline.throughput.rate / kafkajs.rate,
        pipelineToNaive: pipeline.throughput.rate / naive.rate,
      };
      runs.push({ baselines: { bullmq, kafkajs, naive, bullmqRedis }, pipeline, ratios });
    }
    const combined = medianOf(runs);
    const settings: BenchResult["settings"] = {
      events: options.events,
      runs: options.runs,
      rate: options.rate,
      openLoopSeconds: options.openLoopSeconds,
      lowRate: options.lowRate,
      partitions: options.partitions,
      concurrency: options.concurrency,
      batch: options.batch,
      crmLatencyMs: options.crmLatencyMs,
      scalingLatencyMs: options.scalingLatencyMs,
      scalingEvents: options.scalingEvents,
    };
    return {
      machine: { ...machine, loadAverage: { ...machine.loadAverage, end: loadavg()[0] ?? 0 } },
      settings,
      baselines: combined.baselines,
      pipeline: combined.pipeline,
      ratios: combined.ratios,
      targets: targetsOf(combined.pipeline, combined.ratios),
      runs,
      startedAt: new Date(started).toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await crm.close();
    await infra.teardown();
  }
}
