import { z } from "zod";
import { jobIdPart } from "./keys.js";
import { describeProblems, problemsOf, requiredFieldMessage, type Problem } from "./problems.js";

/**
 * A delivery job names a handoff version, not its content: the worker loads the latest snapshot, so a
 * job merged while waiting still sends the newest state. Unknown fields are ignored (stripped) so a
 * newer producer can add fields during a rolling deploy.
 */
export const DeliveryJobSchema = z.object({
  v: z.literal(1),
  key: z.string().min(1),
  version: z.int().min(1),
  event_id: z.string().min(1),
  occurred_at: z.iso.datetime({ offset: true }),
  enqueued_at: z.iso.datetime({ offset: true }),
  /** W3C trace context of the consumer span that enqueued the job. */
  traceparent: z.string().optional(),
});
export type DeliveryJob = z.infer<typeof DeliveryJobSchema>;

export type ParseDeliveryJobResult =
  { ok: true; job: DeliveryJob } | { ok: false; problems: Problem[]; message: string };

export function parseDeliveryJob(raw: unknown): ParseDeliveryJobResult {
  const result = DeliveryJobSchema.safeParse(raw, { error: requiredFieldMessage });
  if (result.success) return { ok: true, job: result.data };
  const problems = problemsOf(result.error);
  return { ok: false, problems, message: describeProblems(problems) };
}

/**
 * One id per handoff version: re-enqueueing the same version after a consumer crash is a no-op in
 * BullMQ. Injective because the version part has no '.' and `jobIdPart` output is injective.
 */
export function deliveryJobId(key: string, version: number): string {
  return `${jobIdPart(key)}.v${version}`;
}

/** BullMQ deduplication id: one waiting delivery per handoff on each destination's queue. */
export function deliveryDedupId(key: string): string {
  return jobIdPart(key);
}
