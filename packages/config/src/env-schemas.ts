import { z } from "zod";

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `PORT` differs per service, so each service picks its default. */
export function portSchema(defaultPort: number) {
  return intFrom(0, 65_535).default(defaultPort);
}

const BrokerSchema = z.string().regex(/^[^\s:,]+:\d{1,5}$/, "each broker must be host:port");

export const KafkaEnvSchema = z.object({
  KAFKA_BROKERS: z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((broker) => broker.trim())
        .filter((broker) => broker !== ""),
    )
    .pipe(z.array(BrokerSchema).min(1, "needs at least one host:port")),
  KAFKA_CLIENT_ID: z.string().default("handoff-sync"),
  KAFKA_GROUP_ID: z.string().default("handoff-sync-consumer"),
  KAFKA_SESSION_TIMEOUT_MS: intFrom(1, 3_600_000).default(10_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: intFrom(1, 3_600_000).default(3_000),
});
export type KafkaEnv = z.infer<typeof KafkaEnvSchema>;

export const RedisEnvSchema = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" }),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_{}-]+$/, "letters, digits, ':', '_', '-', '{', '}' only")
    .default("hs"),
});
export type RedisEnv = z.infer<typeof RedisEnvSchema>;

export const LogLevelSchema = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export const CommonEnvSchema = z.object({
  HANDOFF_SYNC_CONFIG: z.string().min(1),
  LOG_LEVEL: LogLevelSchema.default("info"),
});
export type CommonEnv = z.infer<typeof CommonEnvSchema>;
