import { z } from "zod";
import { FieldMappingSchema } from "../mapping-schema.js";
import { SecretRefSchema } from "../secret-ref.js";

export const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const RetryPolicySchema = z.strictObject({
  attempts: int(1, 100).default(8),
  base_delay_ms: int(0, 86_400_000).default(1_000),
  max_delay_ms: int(0, 86_400_000).default(300_000),
  /** A screen-pop that arrives minutes late is useless: past this age a delivery is dead-lettered as expired. */
  deadline_ms: int(1, 7 * 86_400_000).optional(),
  /**
   * Where a delivery past its deadline goes instead of the dead-letter queue: another destination,
   * e.g. a callback task when the screen-pop came too late.
   */
  deadline_fallback: z.string().min(1).optional(),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/**
 * At most `max` deliveries start per `duration_ms` for this destination, across all workers (BullMQ's
 * queue limiter), so a CRM's API quota is spent evenly instead of in 429 bursts.
 */
export const RateLimitSchema = z
  .strictObject({
    max: int(1, 1_000_000),
    duration_ms: int(1, 86_400_000),
  })
  .describe("At most `max` deliveries start per `duration_ms`, across all workers.");
export type RateLimit = z.infer<typeof RateLimitSchema>;

/**
 * The destination's API request budget (decision 0051): the worker paces its requests to stay
 * `headroom` below `per_window`, and parks the destination once `per_day` is spent, until the
 * day's reset. HubSpot and Salesforce report their own usage in every answer, which corrects both.
 */
export const RequestBudgetSchema = z
  .strictObject({
    per_window: z.strictObject({ max: int(1, 1_000_000), window_ms: int(100, 86_400_000) }).optional(),
    per_day: int(1, 1_000_000_000).optional(),
    /** The share of each window left unused, so requests slow before the CRM's limit. */
    headroom: z.number().min(0).max(0.9).default(0.1),
  })
  .describe(
    "API requests per window and per day this destination may spend; paced below, parked when spent.",
  );
export type RequestBudgetConfig = z.infer<typeof RequestBudgetSchema>;

/**
 * How the worker connects to a destination: a custom CA bundle and a client certificate for mTLS. Proxies come from the usual HTTPS_PROXY/HTTP_PROXY/NO_PROXY
 * environment variables.
 */
export const ConnectionSchema = z.strictObject({
  tls: z
    .strictObject({
      ca: SecretRefSchema.optional(),
      cert: SecretRefSchema.optional(),
      key: SecretRefSchema.optional(),
      /** Only for test systems with self-signed certificates; never in production. */
      reject_unauthorized: z.boolean().default(true),
    })
    .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), {
      message: "cert and key go together",
    })
    .optional(),
});

/**
 * Fields every destination type shares: queue isolation settings live beside the endpoint, and the
 * field mapping decides what the live agent sees. Spread into each type's strict object.
 */
export const destinationBase = {
  timeout_ms: int(100, 120_000).default(10_000),
  concurrency: int(1, 1_000).default(4),
  /** Omitted: no limit beyond `concurrency`. */
  rate_limit: RateLimitSchema.optional(),
  /** Omitted: no request budget beyond the CRM's own 429s. */
  budget: RequestBudgetSchema.optional(),
  // `prefault` parses the default, so the inner defaults apply when `retry` is omitted.
  retry: RetryPolicySchema.prefault({}),
  /** Target field -> rule. Each adapter documents its default mapping, used when this is omitted. */
  mapping: FieldMappingSchema.optional(),
  /** Loopback, private and link-local addresses are refused unless this is true. */
  allow_private_network: z.boolean().default(false),
  connection: ConnectionSchema.optional(),
};
