import { z } from "zod";
import { FieldMappingSchema } from "../mapping-schema.js";

export const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const RetryPolicySchema = z.strictObject({
  attempts: int(1, 100).default(8),
  base_delay_ms: int(0, 86_400_000).default(1_000),
  max_delay_ms: int(0, 86_400_000).default(300_000),
  /** A screen-pop that arrives minutes late is useless: past this age a delivery is dead-lettered as expired. */
  deadline_ms: int(1, 7 * 86_400_000).optional(),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/**
 * Fields every destination type shares: queue isolation settings live beside the endpoint, and the
 * field mapping decides what the live agent sees. Spread into each type's strict object.
 */
export const destinationBase = {
  timeout_ms: int(100, 120_000).default(10_000),
  concurrency: int(1, 1_000).default(4),
  // `prefault` parses the default, so the inner defaults apply when `retry` is omitted.
  retry: RetryPolicySchema.prefault({}),
  /** Target field -> rule. Each adapter documents its default mapping, used when this is omitted. */
  mapping: FieldMappingSchema.optional(),
};
