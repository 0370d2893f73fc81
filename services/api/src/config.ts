import {
  CommonEnvSchema,
  KafkaEnvSchema,
  KafkaSecurityEnvSchema,
  parseEnv,
  portSchema,
  readDestinationsFile,
  RedisEnvSchema,
  type DestinationsFile,
} from "@handoff-sync/config";
import { z } from "zod";
import { parseTrustProxy, type TrustProxy } from "./auth.js";

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const ApiEnvSchema = z.object({
  ...CommonEnvSchema.shape,
  ...RedisEnvSchema.shape,
  /** Optional here: without it consumer lag and the rejected events answer 503, the rest works. */
  KAFKA_BROKERS: KafkaEnvSchema.shape.KAFKA_BROKERS.optional(),
  KAFKA_CLIENT_ID: z.string().default("handoff-sync-api"),
  ...KafkaSecurityEnvSchema.shape,
  /** The consumer's group, whose lag the admin API reports. */
  KAFKA_GROUP_ID: KafkaEnvSchema.shape.KAFKA_GROUP_ID,
  PORT: portSchema(8080),
  HOST: z.string().default("0.0.0.0"),
  /** The account and project the seed-compatible `/v1/{account_id}/{project_id}/handoff_state` answers for. */
  HANDOFF_API_ACCOUNT_ID: z.string().optional(),
  HANDOFF_API_PROJECT_ID: z.string().optional(),
  /** `name:scope+scope:key` entries separated by commas. */
  HANDOFF_API_KEYS: z.string().optional(),
  /** A mounted file of `name scopes key` lines (scopes joined by `+` or `,`). */
  HANDOFF_API_KEYS_FILE: z.string().optional(),
  HANDOFF_API_SESSION_TTL_MS: intFrom(60_000, 7 * 24 * 3600 * 1000).default(8 * 3600 * 1000),
  /** Marks the queue UI's session cookie Secure; turn off only for plain-HTTP local use. */
  HANDOFF_API_SECURE_COOKIES: z.stringbool().default(true),
  /** Read again on SIGHUP and this often, so a removed key (and its queue UI sessions) stops working. */
  HANDOFF_API_KEYS_RELOAD_INTERVAL_MS: intFrom(100, 3_600_000).default(10_000),
  /**
   * Which X-Forwarded-For entries to believe: `false`, a hop count (`true` is 1: the ingress in
   * front), or the proxies' addresses and CIDR ranges. See `parseTrustProxy`.
   */
  HANDOFF_API_TRUST_PROXY: z
    .string()
    .default("false")
    .transform((value, ctx): TrustProxy => {
      const parsed = parseTrustProxy(value);
      if (typeof parsed === "object" && "problem" in parsed) {
        ctx.addIssue({ code: "custom", message: parsed.problem });
        return z.NEVER;
      }
      return parsed;
    }),
  HANDOFF_API_AUTH_FAILURE_LIMIT: intFrom(1, 1000).default(5),
  /** Invalid keys from all clients together within the window before every invalid key gets 429. */
  HANDOFF_API_AUTH_GLOBAL_FAILURE_LIMIT: intFrom(1, 100_000).default(100),
  HANDOFF_API_AUTH_FAILURE_WINDOW_MS: intFrom(1000, 3_600_000).default(60_000),
  HANDOFF_API_AUTH_MAX_LOCKOUT_MS: intFrom(1000, 3_600_000).default(60_000),
  /** Must match the consumer's: an erased handoff's version floor is kept this long; 0 forever. */
  HANDOFF_VERSION_FLOOR_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(400 * 24 * 3600 * 1000),
});
export type ApiEnv = z.infer<typeof ApiEnvSchema>;

export function loadApiEnv(env: Record<string, string | undefined> = process.env): ApiEnv {
  return parseEnv(ApiEnvSchema, env);
}

/**
 * The environment, then the destinations file: the API reports on every configured destination.
 * Secret references are left unresolved, so the API never needs CRM credentials.
 */
export async function loadApiConfig(
  env: Record<string, string | undefined> = process.env,
): Promise<{ env: ApiEnv; destinations: DestinationsFile }> {
  const parsed = loadApiEnv(env);
  return { env: parsed, destinations: await readDestinationsFile(parsed.HANDOFF_SYNC_CONFIG) };
}
