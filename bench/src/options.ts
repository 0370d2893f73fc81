import { z } from "zod";

const count = (fallback: number, min = 1) => z.coerce.number().int().min(min).default(fallback);

/** The bench's knobs, read once from the environment; empty strings count as unset. */
export const BenchOptionsSchema = z.object({
  /** Events (or jobs, or messages) per throughput measurement. */
  BENCH_EVENTS: count(5000),
  /** Runs per measurement; the report shows each metric's median. */
  BENCH_RUNS: count(3),
  /** Offered rate of the open-loop latency phase, events per second. */
  BENCH_RATE: count(1000),
  BENCH_OPEN_LOOP_SECONDS: z.coerce.number().positive().default(10),
  /** Offered rate of the low-rate open-loop phase (p50/p99 when the pipeline is nowhere near full). */
  BENCH_LOW_RATE: count(100),
  /** Partitions of every bench topic; the consumer reads this many concurrently. */
  BENCH_PARTITIONS: count(3),
  /** Delivery concurrency of the destination, the no-op BullMQ worker and the naive loop's pool. */
  BENCH_CONCURRENCY: count(16),
  /** Jobs per `addBulk` in the raw BullMQ baseline: the consumer's enqueue batch. */
  BENCH_BATCH: count(100),
  /** CRM latency of the throughput and open-loop phases. */
  BENCH_CRM_LATENCY_MS: count(0, 0),
  /** CRM latency of the one-worker versus two-worker phase. */
  BENCH_SCALING_LATENCY_MS: count(50, 0),
  /** Events per worker-scaling measurement; 0 skips the phase. */
  BENCH_SCALING_EVENTS: count(2000, 0),
  /** When set, services run with `--cpu-prof` and write their profiles here. */
  BENCH_PROFILE_DIR: z.string().optional(),
  /** Where the JSON report goes. */
  BENCH_OUTPUT: z.string().optional(),
  KAFKA_BROKERS: z.string().optional(),
  REDIS_URL: z.string().optional(),
});

export interface BenchOptions {
  readonly events: number;
  readonly runs: number;
  readonly rate: number;
  readonly openLoopSeconds: number;
  readonly lowRate: number;
  readonly partitions: number;
  readonly concurrency: number;
  readonly batch: number;
  readonly crmLatencyMs: number;
  readonly scalingLatencyMs: number;
  readonly scalingEvents: number;
  readonly profileDir?: string;
  readonly output?: string;
  readonly kafkaBrokers?: string;
  readonly redisUrl?: string;
}

export function parseBenchOptions(env: Record<string, string | undefined>): BenchOptions {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ""),
  );
  const parsed = BenchOptionsSchema.parse(cleaned);
  return {
    events: parsed.BENCH_EVENTS,
    runs: parsed.BENCH_RUNS,
    rate: parsed.BENCH_RATE,
    openLoopSeconds: parsed.BENCH_OPEN_LOOP_SECONDS,
    lowRate: parsed.BENCH_LOW_RATE,
    partitions: parsed.BENCH_PARTITIONS,
    concurrency: parsed.BENCH_CONCURRENCY,
    batch: parsed.BENCH_BATCH,
    crmLatencyMs: parsed.BENCH_CRM_LATENCY_MS,
    scalingLatencyMs: parsed.BENCH_SCALING_LATENCY_MS,
    scalingEvents: parsed.BENCH_SCALING_EVENTS,
    ...(parsed.BENCH_PROFILE_DIR !== undefined ? { profileDir: parsed.BENCH_PROFILE_DIR } : {}),
    ...(parsed.BENCH_OUTPUT !== undefined ? { output: parsed.BENCH_OUTPUT } : {}),
    ...(parsed.KAFKA_BROKERS !== undefined ? { kafkaBrokers: parsed.KAFKA_BROKERS } : {}),
    ...(parsed.REDIS_URL !== undefined ? { redisUrl: parsed.REDIS_URL } : {}),
  };
}
