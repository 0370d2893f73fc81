import { z } from "zod";

const count = (fallback: number, min = 1) => z.coerce.number().int().min(min).default(fallback);

/**
 * The bench's phases: `pipeline` is (a) to (d), measured together because their targets are ratios
 * of one another; `crm` is the HubSpot phase (batched against unbatched delivery under HubSpot's
 * rate limits), slow by nature (its unbatched drain is paced at about 9 requests a second).
 */
export const BENCH_PHASES = ["pipeline", "crm"] as const;
export type BenchPhase = (typeof BENCH_PHASES)[number];

const PhasesSchema = z
  .string()
  .default(BENCH_PHASES.join(","))
  .transform((value) => [...new Set(value.split(",").map((phase) => phase.trim()))].filter(Boolean))
  .pipe(z.array(z.enum(BENCH_PHASES)).min(1));

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
  /** Comma-separated phases to run (`pipeline`, `crm`); all by default. */
  BENCH_PHASES: PhasesSchema,
  /** Handoffs preloaded for each HubSpot drain (unbatched, then batched). */
  BENCH_CRM_EVENTS: count(3000),
  /**
   * Each HubSpot drain counts receipts for at most this long after its first: the unbatched one is
   * paced to about 9 requests a second and would take minutes to drain the backlog. Whole
   * multiples of HubSpot's ten-second window keep its bursts from skewing the rate.
   */
  BENCH_CRM_DRAIN_SECONDS: count(30),
  /** Offered rate of the HubSpot open loop (batched destination), handoffs per second. */
  BENCH_CRM_RATE: count(50),
  BENCH_CRM_OPEN_LOOP_SECONDS: z.coerce.number().positive().default(20),
  /** The HubSpot fake's answer latency. */
  BENCH_CRM_HUBSPOT_LATENCY_MS: count(150, 0),
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
  readonly phases: readonly BenchPhase[];
  readonly crmEvents: number;
  readonly crmDrainSeconds: number;
  readonly crmRate: number;
  readonly crmOpenLoopSeconds: number;
  readonly hubspotLatencyMs: number;
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
    phases: parsed.BENCH_PHASES,
    crmEvents: parsed.BENCH_CRM_EVENTS,
    crmDrainSeconds: parsed.BENCH_CRM_DRAIN_SECONDS,
    crmRate: parsed.BENCH_CRM_RATE,
    crmOpenLoopSeconds: parsed.BENCH_CRM_OPEN_LOOP_SECONDS,
    hubspotLatencyMs: parsed.BENCH_CRM_HUBSPOT_LATENCY_MS,
    ...(parsed.BENCH_PROFILE_DIR !== undefined ? { profileDir: parsed.BENCH_PROFILE_DIR } : {}),
    ...(parsed.BENCH_OUTPUT !== undefined ? { output: parsed.BENCH_OUTPUT } : {}),
    ...(parsed.KAFKA_BROKERS !== undefined ? { kafkaBrokers: parsed.KAFKA_BROKERS } : {}),
    ...(parsed.REDIS_URL !== undefined ? { redisUrl: parsed.REDIS_URL } : {}),
  };
}
