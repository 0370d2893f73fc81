import { z } from "zod";

// No cross-field refinement (max >= base): it would stop config from `.extend()`ing or `.partial()`ing
// this schema, and a cap below the base simply caps every delay.
export const BackoffPolicySchema = z.object({
  attempts: z.int().min(1).max(100).default(8),
  base_delay_ms: z.int().min(0).default(1000),
  max_delay_ms: z.int().min(0).default(300_000),
  /** Give up (dead-letter as `expired`) once this long has passed since the event occurred. */
  deadline_ms: z.int().min(1).optional(),
});
export type BackoffPolicy = z.infer<typeof BackoffPolicySchema>;
export type BackoffPolicyInput = z.input<typeof BackoffPolicySchema>;

/**
 * Delay before the next attempt: capped exponential backoff with full jitter, so many jobs that failed
 * together do not retry together. A `Retry-After` from the CRM wins outright, even above the cap: the
 * CRM knows when it will take requests again, and retrying sooner only burns an attempt. Deadlines
 * bound it instead (`deadline_ms`).
 *
 * @param attemptsMade attempts already made (1 after the first failure)
 * @param random uniform in [0, 1), injected for tests
 */
export function computeBackoffMs(
  attemptsMade: number,
  policy: Pick<BackoffPolicy, "base_delay_ms" | "max_delay_ms">,
  random: () => number,
  retryAfterMs?: number,
): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs))
    return Math.max(Math.ceil(retryAfterMs), 0);
  const exponent = Math.max(Math.floor(attemptsMade), 1) - 1;
  const ceiling = Math.min(policy.max_delay_ms, policy.base_delay_ms * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
