import {
  CommonEnvSchema,
  loadDestinationsFile,
  watchConfig,
  type ConfigWatcher,
  type ConfigWatchSettings,
  type LoadedConfig,
  KafkaEnvSchema,
  parseEnv,
  portSchema,
  RedisEnvSchema,
  TracingEnvSchema,
} from "@handoff-sync/config";
import { DEFAULT_RECORDS_IN_FLIGHT } from "@handoff-sync/kafka";
import { z } from "zod";

export const ConsumerEnvSchema = z.object({
  ...CommonEnvSchema.shape,
  ...KafkaEnvSchema.shape,
  ...RedisEnvSchema.shape,
  ...TracingEnvSchema.shape,
  PORT: portSchema(8081),
  KAFKA_PARTITIONS_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
  /**
   * Records of one partition applied and enqueued together (one pipelined round trip per step, one
   * bulk enqueue per destination); bounds the records in flight with KAFKA_PARTITIONS_CONCURRENCY.
   */
  KAFKA_RECORDS_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_RECORDS_IN_FLIGHT),
  /** Bytes one fetch may bring per partition, and in all (kafkajs maxBytesPerPartition, maxBytes). */
  KAFKA_FETCH_MAX_BYTES_PER_PARTITION: z.coerce
    .number()
    .int()
    .min(1024)
    .default(256 * 1024),
  KAFKA_FETCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(2 * 1024 * 1024),
  /** How long a handoff is kept after its last event; 0 keeps it until erased. */
  HANDOFF_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30 * 24 * 3600 * 1000),
  /** How long a handoff's version floor outlives it, so one that comes back keeps counting up; 0 forever. */
  HANDOFF_VERSION_FLOOR_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(400 * 24 * 3600 * 1000),
  KAFKA_CREATE_TOPICS: z.stringbool().default(true),
  /**
   * Replicas that must acknowledge a record's writes (Redis WAIT) before its offset is resolved;
   * 0 does not wait. With a replica and failover, an acknowledged enqueue then survives the primary.
   */
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  /** How long WAIT may block; fewer acknowledgements by then fail the record (retried, never committed). */
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).default(1000),
});
export type ConsumerEnv = z.infer<typeof ConsumerEnvSchema>;

export function loadConsumerEnv(env: Record<string, string | undefined> = process.env): ConsumerEnv {
  return parseEnv(ConsumerEnvSchema, env);
}

/** The environment, then the destinations file it names (whose secret references read the environment too). */
export async function loadConsumerConfig(
  env: Record<string, string | undefined> = process.env,
): Promise<{ env: ReturnType<typeof loadConsumerEnv>; destinations: LoadedConfig }> {
  const parsed = loadConsumerEnv(env);
  return { env: parsed, destinations: await loadDestinationsFile(parsed.HANDOFF_SYNC_CONFIG, env) };
}

/** Reloads the destinations file on SIGHUP or change; its secret references read the environment again. */
export function watchConsumerConfig(
  file: string,
  settings: ConfigWatchSettings,
  env: Record<string, string | undefined> = process.env,
): ConfigWatcher {
  return watchConfig(file, env, settings);
}
