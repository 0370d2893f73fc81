import { AttemptLogEntrySchema, DeadLetterEntrySchema, DeadLetterReasonSchema } from "@handoff-sync/schema";
import { z } from "zod";

/**
 * The admin API's answers as docs/openapi.json and docs/operations.md document them. Only what
 * the CLI shows is required; `--json` prints the answer as it came, every field kept.
 */

export const ParkRecordSchema = z.object({
  reason: z.string(),
  admin_hint: z.string(),
  parked_at: z.string(),
  /** `worker` for automatic parking, else the name of the API key that paused it. */
  by: z.string(),
});
export type ParkRecord = z.infer<typeof ParkRecordSchema>;

export const DestinationOverviewSchema = z.object({
  destination: z.string(),
  waiting: z.number(),
  active: z.number(),
  delayed: z.number(),
  prioritized: z.number(),
  failed: z.number(),
  dead_lettered: z.number(),
  paused: z.boolean(),
  parked: ParkRecordSchema.nullable(),
  rate_limited: z.boolean(),
  rate_limit_ttl_ms: z.number(),
  oldest_waiting_age_ms: z.number(),
});
export type DestinationOverview = z.infer<typeof DestinationOverviewSchema>;

export const OverviewAnswerSchema = z.object({ destinations: z.array(DestinationOverviewSchema) });

export const DeadLetterPageSchema = z.object({
  destination: z.string(),
  total: z.number(),
  offset: z.number(),
  limit: z.number(),
  entries: z.array(DeadLetterEntrySchema),
});
export type DeadLetterPage = z.infer<typeof DeadLetterPageSchema>;

export const ReplayItemSchema = z.object({
  id: z.string(),
  key: z.string(),
  destination: z.string(),
  reason: DeadLetterReasonSchema,
  deadLetteredVersion: z.number(),
  /** The version a replay sends: the handoff's latest, not the dead-lettered one. */
  sendVersion: z.number().optional(),
  deliveredVersion: z.number().optional(),
  /** `missing`: the handoff is gone (retention, erasure), nothing was sent and the entry stays. */
  action: z.enum(["enqueue", "already_delivered", "missing"]),
});
export type ReplayItem = z.infer<typeof ReplayItemSchema>;

export const ReplayAnswerSchema = z.object({
  destination: z.string(),
  dry_run: z.boolean(),
  items: z.array(ReplayItemSchema),
});

export const DiscardAnswerSchema = z.object({
  destination: z.string(),
  dry_run: z.boolean(),
  discarded: z.array(z.string()),
});

export const PauseAnswerSchema = z.object({ destination: z.string(), parked: ParkRecordSchema });
export const ResumeAnswerSchema = z.object({ destination: z.string(), parked: z.null() });

export const BackfillAnswerSchema = z.object({
  destination: z.string(),
  dry_run: z.boolean(),
  matched: z.number(),
  enqueued: z.number(),
  already_delivered: z.number(),
  not_routed: z.number(),
  missing: z.number(),
});
export type BackfillAnswer = z.infer<typeof BackfillAnswerSchema>;

export const RejectedRecordSchema = z.object({
  partition: z.number(),
  offset: z.string(),
  timestamp: z.string(),
  key: z.string().nullable(),
  reason: z.string().nullable(),
  error: z.string().nullable(),
  rejected_at: z.string().nullable(),
  size: z.number(),
  value_preview: z.string(),
  value_encoding: z.enum(["utf8", "base64"]),
});
export type RejectedRecord = z.infer<typeof RejectedRecordSchema>;

export const RejectedPageSchema = z.object({
  partitions: z.array(
    z.object({
      partition: z.number(),
      low: z.string(),
      high: z.string(),
      next_offset: z.string().nullable(),
    }),
  ),
  records: z.array(RejectedRecordSchema),
});
export type RejectedPage = z.infer<typeof RejectedPageSchema>;

export const ResendAnswerSchema = z.object({
  dry_run: z.boolean(),
  items: z.array(
    z.object({
      partition: z.number(),
      offset: z.string(),
      topic: z.string().nullable(),
      action: z.enum(["resent", "would_resend", "not_found"]),
    }),
  ),
});
export type ResendAnswer = z.infer<typeof ResendAnswerSchema>;

export const DeliveryStatusSchema = z.object({
  destination: z.string(),
  status: z.enum(["delivered", "pending", "retrying", "parked", "dead_lettered", "not_sent"]),
  up_to_date: z.boolean(),
  delivered: z
    .object({ version: z.number(), record_id: z.string().nullable(), delivered_at: z.string() })
    .nullable(),
  pending_job: z.object({ id: z.string(), state: z.string(), version: z.number().nullable() }).nullable(),
  dead_letter: z
    .object({
      id: z.string(),
      version: z.number(),
      reason: z.string(),
      error: z.string(),
      dead_lettered_at: z.string(),
    })
    .nullable(),
  parked: ParkRecordSchema.nullable(),
  last_attempt: AttemptLogEntrySchema.nullable(),
});
export type DeliveryStatus = z.infer<typeof DeliveryStatusSchema>;

export const HandoffAnswerSchema = z.object({
  id: z.string(),
  shared_id: z.string().nullable(),
  key: z.string(),
  state: z.string(),
  stage: z.string(),
  version: z.number(),
  occurred_at: z.string(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  history: z.array(
    z.object({
      event_id: z.string(),
      state: z.string(),
      occurred_at: z.string(),
      received_at: z.string().optional(),
      anomaly: z.string().optional(),
    }),
  ),
  deliveries: z.array(DeliveryStatusSchema),
});
export type HandoffAnswer = z.infer<typeof HandoffAnswerSchema>;

export const ErasureAnswerSchema = z.object({
  dry_run: z.boolean(),
  handoffs: z.number(),
  redis_keys: z.number(),
  dead_letters: z.number(),
  jobs: z.number(),
  /** Deliveries running during the erasure cannot be removed: erase again once they finished. */
  jobs_active: z.number(),
  audit_entries: z.number(),
});
export type ErasureAnswer = z.infer<typeof ErasureAnswerSchema>;
