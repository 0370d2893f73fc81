import { z } from "zod";
import { jobIdPart } from "./keys.js";

const datetime = z.iso.datetime({ offset: true });

export const AttemptOutcomeSchema = z.enum([
  "retryable",
  "permanent",
  "destination",
  "auth",
  "success",
  "unknown",
]);
export type AttemptOutcome = z.infer<typeof AttemptOutcomeSchema>;

export const AttemptLogEntrySchema = z.object({
  attempt: z.int().min(1),
  at: datetime,
  outcome: AttemptOutcomeSchema,
  status: z.int().optional(),
  error: z.string(),
  /** Allow-listed and truncated; never a whole CRM response body. */
  response_excerpt: z.string().optional(),
  duration_ms: z.number().min(0).optional(),
});
export type AttemptLogEntry = z.infer<typeof AttemptLogEntrySchema>;

/**
 * `permanent`: the CRM refused this record; `exhausted`: retries ran out; `expired`: past the
 * destination's deadline (a late screen-pop is useless); `stalled`: BullMQ gave up on a stalled job.
 */
export const DeadLetterReasonSchema = z.enum(["permanent", "exhausted", "expired", "stalled"]);
export type DeadLetterReason = z.infer<typeof DeadLetterReasonSchema>;

export const DeadLetterEntrySchema = z.object({
  v: z.literal(1),
  id: z.string().min(1),
  key: z.string().min(1),
  destination: z.string().min(1),
  version: z.int().min(1),
  reason: DeadLetterReasonSchema,
  error: z.string(),
  attempts: z.array(AttemptLogEntrySchema),
  first_attempt_at: datetime.optional(),
  dead_lettered_at: datetime,
});
export type DeadLetterEntry = z.infer<typeof DeadLetterEntrySchema>;

/**
 * Deterministic, so a crash between dead-lettering and failing the job cannot dead-letter twice. The
 * destination is not part of it: each destination has its own dead-letter queue.
 */
export function deadLetterId(key: string, version: number): string {
  return `dl.${jobIdPart(key)}.v${version}`;
}
