import { CommonEnvSchema, loadDestinationsFile, type LoadedConfig, parseEnv, portSchema, RedisEnvSchema } from "@handoff-sync/config";
import { z } from "zod";

export const WorkerEnvSchema = z.object({
  ...CommonEnvSchema.shape,
  ...RedisEnvSchema.shape,
  PORT: portSchema(8082),
  /** Active deliveries get this long to finish on SIGTERM, inside Kubernetes' 30 s grace period. */
  WORKER_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(25_000),
  /** BullMQ lock; below ~10 s a busy 2-core node reports false stalls. */
  WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(10_000),
  WORKER_MAX_STALLED_COUNT: z.coerce.number().int().min(1).default(2),
  /** Comma-separated destination names this process serves; empty serves all. */
  WORKER_DESTINATIONS: z
    .string()
    .optional()
    .transform((value) => (value ? value.split(",").map((d) => d.trim()).filter(Boolean) : [])),
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
