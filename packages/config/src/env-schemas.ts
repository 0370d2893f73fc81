import { z } from "zod";

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `PORT` differs per service, so each service picks its default. */
export function portSchema(defaultPort: number) {
  return intFrom(0, 65_535).default(defaultPort);
}

const BrokerSchema = z.string().regex(/^[^\s:,]+:\d{1,5}$/, "each broker must be host:port");

/**
 * How every Kafka client authenticates (docs/configuration.md#secure-connections). Rules that span
 * several variables, and the files they name, are checked by `kafkaConnectionOptions` at startup.
 */
export const KafkaSecurityEnvSchema = z.object({
  KAFKA_SSL: z.stringbool().default(false),
  /** PEM bundle of the CAs that sign the brokers' certificates; the system CAs when unset. */
  KAFKA_SSL_CA_FILE: z.string().optional(),
  /** PEM client certificate and key, for brokers that require mutual TLS. */
  KAFKA_SSL_CERT_FILE: z.string().optional(),
  KAFKA_SSL_KEY_FILE: z.string().optional(),
  KAFKA_SASL_MECHANISM: z.enum(["plain", "scram-sha-256", "scram-sha-512"]).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  /** A mounted Secret file holding the password, so it stays out of the pod spec. */
  KAFKA_SASL_PASSWORD_FILE: z.string().optional(),
});
export type KafkaSecurityEnv = z.infer<typeof KafkaSecurityEnvSchema>;

export const KafkaEnvSchema = z.object({
  ...KafkaSecurityEnvSchema.shape,
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
  /** ACL user and password, when they are not in `REDIS_URL` (docs/configuration.md#secure-connections). */
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_PASSWORD_FILE: z.string().optional(),
  /** TLS files for `rediss://` URLs: the CA bundle (system CAs when unset) and an optional client certificate. */
  REDIS_TLS_CA_FILE: z.string().optional(),
  REDIS_TLS_CERT_FILE: z.string().optional(),
  REDIS_TLS_KEY_FILE: z.string().optional(),
  /**
   * Redis Cluster mode (docs/decisions/0040-redis-cluster-layout.md): `REDIS_URL` then names one seed
   * node (scheme, credentials and TLS as for a single Redis) and the client discovers the rest.
   */
  REDIS_CLUSTER: z.stringbool().default(false),
  /** Further seed nodes, `host:port,host:port`, so start-up does not hang on one node being down. */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? "")
        .split(",")
        .map((node) => node.trim())
        .filter((node) => node !== ""),
    )
    .pipe(z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, "each node must be host:port"))),
});
export type RedisEnv = z.infer<typeof RedisEnvSchema>;

export const LogLevelSchema = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

// Dotted identifiers only (`*` for any one key): pino compiles redact paths into code, so nothing
// else from the environment may reach it. The logger checks the same rule again.
const RedactPathSchema = z
  .string()
  .regex(
    /^(?:[A-Za-z_$][\w$]*|\*)(?:\.(?:[A-Za-z_$][\w$]*|\*)){0,7}$/,
    "must be a dotted path of field names, `*` for any one key",
  )
  .refine((path) => path.split(".").some((segment) => segment !== "*"), "must name at least one field");

export const CommonEnvSchema = z.object({
  HANDOFF_SYNC_CONFIG: z.string().min(1),
  LOG_LEVEL: LogLevelSchema.default("info"),
  /** Comma-separated log paths to redact, e.g. `data.email,data.phone` (handoff data is logged under `data`). */
  LOG_REDACT_PATHS: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? "")
        .split(",")
        .map((path) => path.trim())
        .filter((path) => path !== ""),
    )
    .pipe(z.array(RedactPathSchema)),
  /**
   * Comma-separated absolute directories `file:` secret references may read from; the destinations
   * file's directory when unset. Read with the destinations file by `loadDestinationsFile`.
   */
  HANDOFF_SECRETS_DIRS: z.string().optional(),
});
export type CommonEnv = z.infer<typeof CommonEnvSchema>;

/** OTLP/HTTP trace export, off unless an endpoint is set; names and precedence as in the OpenTelemetry spec. */
export const TracingEnvSchema = z.object({
  /** Base URL; traces go to `<base>/v1/traces`. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
    .optional(),
  /** The full traces URL; wins over OTEL_EXPORTER_OTLP_ENDPOINT. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
    .optional(),
});
export type TracingEnv = z.infer<typeof TracingEnvSchema>;

/** Where traces are sent, or undefined when tracing is off. */
export function otlpTracesEndpoint(env: TracingEnv): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT === undefined) return undefined;
  return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`;
}
