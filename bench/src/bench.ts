import { cpus, loadavg, release, totalmem } from "node:os";
import { provisionInfra } from "@handoff-sync/testing";
import { Redis } from "ioredis";
import type { Kafka } from "kafkajs";
import { benchBullmq, benchKafkajs, benchNaive, type Throughput } from "./baselines.js";
import { benchCrm, type CrmRun } from "./crm-bench.js";
import { startCrmFake, type CrmFake } from "./crm-fake.js";
import { crmTargets } from "./crm-stats.js";
import { benchFloors, type Floors } from "./floors.js";
import { benchKafka } from "./kafka.js";
import type { BenchOptions } from "./options.js";
import { benchPipeline, type PipelineRun } from "./pipeline-bench.js";
import { readRedisCounters, redisCostBetween, type RedisCost } from "./redis-stats.js";
import { median } from "./stats.js";
import type { Target } from "./target.js";

export { parseBenchOptions, type BenchOptions } from "./options.js";
export { formatReport } from "./report.js";
export type { Target } from "./target.js";

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

export interface Baselines {
  readonly bullmq: Throughput;
  readonly kafkajs: Throughput;
  readonly naive: Throughput;
  /** Redis commands and CPU of (a) per 1,000 jobs: what BullMQ itself costs per job. */
  readonly bullmqRedis: RedisCost;
  /** The parts each event passes through, each measured alone: the least consumer + worker can cost. */
  readonly floors: Floors;
}

/** One run's measurements; a phase left out by `BENCH_PHASES` has none. */
export interface RunResult {
  /** Phase `pipeline`: (a) to (c) and (d), and d's ratios to each. */
  readonly baselines?: Baselines;
  readonly pipeline?: PipelineRun;
  readonly ratios?: Ratios;
  /** Phase `crm`: HubSpot, batched against unbatched, under its rate limits. */
  readonly crm?: CrmRun;
}

export interface Ratios {
  readonly pipelineToBullmq: number;
  readonly pipelineToKafkajs: number;
  readonly pipelineToNaive: number;
}

export interface BenchResult {
  readonly machine: Machine;
  readonly settings: Omit<BenchOptions, "profileDir" | "output" | "kafkaBrokers" | "redisUrl">;
  /** Medians over the runs; only the phases that ran. */
  readonly baselines?: Baselines;
  readonly pipeline?: PipelineRun;
  readonly ratios?: Ratios;
  readonly crm?: CrmRun;
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

function crmTargetsOf(crm: CrmRun): Target[] {
  return crmTargets({
    unbatchedRate: crm.unbatched.throughput.rate,
    batchedRate: crm.batched.throughput.rate,
    rateLimited: crm.unbatched.rateLimited + crm.batched.rateLimited + crm.openLoop.rateLimited,
    openLoop: crm.openLoop,
  });
}

function pipelineTargetsOf(pipeline: PipelineRun, ratios: Ratios): Target[] {
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

/** Phase `pipeline`: the baselines (a) to (c), then the pipeline (d), on the webhook CRM fake. */
async function pipelinePhase(
  kafka: Kafka,
  crmFake: CrmFake,
  infra: { readonly kafkaBrokers: string; readonly redisUrl: string },
  options: BenchOptions,
  say: (message: string) => void,
): Promise<Required<Pick<RunResult, "baselines" | "pipeline" | "ratios">>> {
  const timeoutMs = 5000;
  say(`(a) BullMQ addBulk(${options.batch}) + no-op worker, ${options.events} jobs`);
  const redisBefore = await readRedisCounters(infra.redisUrl);
  const bullmq = await benchBullmq(infra.redisUrl, options);
  const bullmqRedis = redisCostBetween(redisBefore, await readRedisCounters(infra.redisUrl), options.events);
  say(`(a) ${Math.round(bullmq.rate)}/s`);
  say(`(b) kafkajs eachBatch, ${options.events} messages`);
  const kafkajs = await benchKafkajs(kafka, options);
  say(`(b) ${Math.round(kafkajs.rate)}/s`);
  say(`(c) naive kafkajs -> HTTP, ${options.events} events`);
  crmFake.setLatency(options.crmLatencyMs);
  const naive = await benchNaive(kafka, crmFake, { ...options, timeoutMs });
  say(`(c) ${Math.round(naive.rate)}/s`);
  say("floors: kafkajs, BullMQ adds, a no-op BullMQ worker and HTTP requests, each alone");
  const floors = await benchFloors(infra.redisUrl, crmFake, kafkajs.cpuSecondsPer1000 ?? Number.NaN, options);
  say(`floors: ${floors.total.toFixed(3)} CPU s per 1,000 events`);
  const pipeline = await benchPipeline(kafka, crmFake, {
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
  return { baselines: { bullmq, kafkajs, naive, bullmqRedis, floors }, pipeline, ratios };
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
  const runsPipeline = options.phases.includes("pipeline");
  const runsCrm = options.phases.includes("crm");
  // The webhook CRM of phase `pipeline`; phase `crm` starts HubSpot fakes of its own.
  const crmFake: CrmFake | undefined = runsPipeline ? await startCrmFake(options.crmLatencyMs) : undefined;
  const cpuList = cpus();
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
      let result: RunResult = {};
      if (crmFake !== undefined) result = await pipelinePhase(kafka, crmFake, infra, options, say);
      if (runsCrm) {
        const crmRun = await benchCrm(kafka, {
          kafkaBrokers: infra.kafkaBrokers,
          redisUrl: infra.redisUrl,
          events: options.crmEvents,
          drainSeconds: options.crmDrainSeconds,
          rate: options.crmRate,
          openLoopSeconds: options.crmOpenLoopSeconds,
          latencyMs: options.hubspotLatencyMs,
          partitions: options.partitions,
          concurrency: options.concurrency,
          ...(options.profileDir !== undefined ? { profileDir: options.profileDir } : {}),
          progress: (message) => say(`(crm) ${message}`),
        });
        result = { ...result, crm: crmRun };
      }
      runs.push(result);
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
      phases: options.phases,
      crmEvents: options.crmEvents,
      crmDrainSeconds: options.crmDrainSeconds,
      crmRate: options.crmRate,
      crmOpenLoopSeconds: options.crmOpenLoopSeconds,
      hubspotLatencyMs: options.hubspotLatencyMs,
    };
    const targets: Target[] = [
      ...(combined.pipeline !== undefined && combined.ratios !== undefined
        ? pipelineTargetsOf(combined.pipeline, combined.ratios)
        : []),
      ...(combined.crm !== undefined ? crmTargetsOf(combined.crm) : []),
    ];
    return {
      machine: { ...machine, loadAverage: { ...machine.loadAverage, end: loadavg()[0] ?? 0 } },
      settings,
      ...combined,
      targets,
      runs,
      startedAt: new Date(started).toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await crmFake?.close();
    await infra.teardown();
  }
}
