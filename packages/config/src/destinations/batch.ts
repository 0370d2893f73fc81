import { z } from "zod";

/** What a destination type's batch endpoint allows, and the defaults an empty `batch: {}` gets. */
export interface BatchLimits {
  /** The CRM's own ceiling on records per request. */
  readonly maxSize: number;
  /** Whose limit it is, for the error message (`HubSpot's batch upsert`). */
  readonly api: string;
  readonly defaults: { readonly max_size: number; readonly max_wait_ms: number };
}

/**
 * Batched delivery for a CRM whose API writes many records in one request. Omitted: one request per
 * delivery. Each delivery stays its own job; concurrent deliveries wait up to `max_wait_ms` for one
 * another and go out together, at most `max_size` per request (decision 0050).
 */
export function batchSchema(limits: BatchLimits) {
  return z
    .strictObject({
      max_size: z
        .number()
        .int()
        .min(1)
        .max(limits.maxSize, `${limits.api} takes at most ${limits.maxSize} records per request`)
        .default(limits.defaults.max_size),
      /** How long the first delivery of a batch waits for others; it is added to that delivery's latency. */
      max_wait_ms: z.number().int().min(0).max(60_000).default(limits.defaults.max_wait_ms),
    })
    .describe(
      `Batched delivery: up to max_size deliveries (at most ${limits.maxSize}, ${limits.api}'s limit) per request, waiting at most max_wait_ms for a batch to fill.`,
    );
}

export type BatchSettings = z.infer<ReturnType<typeof batchSchema>>;

/** HubSpot CRM v3 `batch/upsert`: at most 100 inputs. */
export const HUBSPOT_BATCH_LIMITS: BatchLimits = {
  maxSize: 100,
  api: "HubSpot's batch upsert",
  defaults: { max_size: 100, max_wait_ms: 200 },
};

/** Salesforce sObject Collections upsert: at most 200 records. */
export const SALESFORCE_BATCH_LIMITS: BatchLimits = {
  maxSize: 200,
  api: "Salesforce's sObject Collections upsert",
  defaults: { max_size: 200, max_wait_ms: 200 },
};
