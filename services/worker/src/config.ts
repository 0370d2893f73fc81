import {
  CommonEnvSchema,
  loadDestinationsFile,
  watchConfig,
  type ConfigWatcher,
  type ConfigWatchSettings,
  type LoadedConfig,
  parseEnv,
  portSchema,
  RedisEnvSchema,
  TracingEnvSchema,
} from "@handoff-sync/config";
import { z } from "zod";

export const WorkerEnvSchema = z.object({
  ...CommonEnvSchema.shape,
  ...RedisEnvSchema.shape,
  ...TracingEnvSchema.shape,
  PORT: portSchema(8082),
  /** Active deliveries get this long to finish on SIGTERM, inside Kubernetes' 30 s grace period. */
  WORKER_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(25_000),
  /** BullMQ lock; below ~10 s a busy 2-core node reports false stalls. */
  WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(10_000),
  WORKER_MAX_STALLED_COUNT: z.coerce.number().int().min(1).default(2),
  /**
   * How long after a destination's timeout_ms a CRM may still apply a write whose answer was lost;
   * the next delivery of that handoff to that destination waits this long (decision 0017).
   */
  WORKER_WRITE_SETTLE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** How often a worker looks for jobs whose lock expired (a crashed or stalled worker's). */
  WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
  /** Must match the consumer's: the ledger lives as long as the handoff it belongs to. */
  HANDOFF_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30 * 24 * 3600 * 1000),
  /** Dead letters older than this are removed (and counted); 0 keeps them until replayed or discarded. */
  DEAD_LETTER_RETENTION_MS: z.coerce.number().int().min(0).default(0),
  /** How often stalled jobs are swept into the dead-letter queue and gauges refreshed. */
  WORKER_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(15_000),
  WORKER_PARK_AFTER_IDENTICAL_FAILURES: z.coerce.number().int().min(1).default(5),
  /** A delivery that parked its destination this often is dead-lettered on its next destination-wide error. */
  WORKER_MAX_PARKS_PER_DELIVERY: z.coerce.number().int().min(1).max(24).default(3),
  WORKER_PARK_AFTER_RATE_LIMITED_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(15 * 60_000),
  HTTPS_PROXY: z.string().optional(),
  HTTP_PROXY: z.string().optional(),
  NO_PROXY: z.string().optional(),
  /** Comma-separated destination names this process serves; empty serves all. */
  WORKER_DESTINATIONS: z
    .string()
    .optional()
    .transform((value) =>
      value
        ? value
            .split(",")
            .map((d) => d.trim())
            .filter(Boolean)
        : [],
    ),
});
export type WorkerEnv = z.infer<typeof WorkerEnvSchema>;

export function loadWorkerEnv(env: Record<string, string | undefined> = process.env): WorkerEnv {
  return parseEnv(WorkerEnvSchema, env);
}

/** The environment, then the destinations file it names (whose secret references read the environment too). */
export async function loadWorkerConfig(
  env: Record<string, string | undefined> = process.env,
): Promise<{ env: ReturnType<typeof loadWorkerEnv>; destinations: LoadedConfig }> {
  const parsed = loadWorkerEnv(env);
  return { env: parsed, destinations: await loadDestinationsFile(parsed.HANDOFF_SYNC_CONFIG, env) };
}

/** Reloads the destinations file on SIGHUP or change; its secret references read the environment again. */
export function watchWorkerConfig(
  file: string,
  settings: ConfigWatchSettings,
  env: Record<string, string | undefined> = process.env,
): ConfigWatcher {
  return watchConfig(file, env, settings);
}
