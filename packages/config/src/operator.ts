import { z } from "zod";
import { int } from "./destinations/base.js";
import { SecretRefSchema } from "./secret-ref.js";

/**
 * The operator loop: what the CRM admin's channel hears about destinations, and which parked
 * destinations the worker probes and resumes by itself.
 */
export const OperatorSchema = z
  .strictObject({
    webhook: z
      .strictObject({
        url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
        /** Signed as deliveries are (Standard Webhooks); several refs while rotating. */
        secret: z.preprocess(
          (value) => (typeof value === "string" ? [value] : value),
          z.array(SecretRefSchema).min(1),
        ),
        timeout_ms: int(100, 60_000).default(5_000),
      })
      .optional()
      .describe(
        "Where operational notices go (parked, resumed, dead-lettering, near quota), e.g. a chat channel's incoming webhook behind a relay. Omitted: log lines only.",
      ),
    watch_interval_ms: int(200, 3_600_000)
      .default(5_000)
      .describe("How often the worker looks at each destination's state for notices."),
    probe_interval_ms: int(200, 86_400_000)
      .default(60_000)
      .describe("How often a parked destination is probed with its adapter's own check."),
    auto_resume: z
      .strictObject({
        auth: z.boolean().default(true),
        outage: z.boolean().default(true),
        quota: z.boolean().default(true),
        config: z.boolean().default(false),
      })
      .prefault({})
      .describe(
        "Per park cause: resume by itself once the probe succeeds. Config errors need a person; operator pauses are never resumed by the probe.",
      ),
    dead_letter_threshold: z
      .strictObject({
        count: int(1, 1_000_000).default(10),
        window_ms: int(60_000, 86_400_000).default(900_000),
      })
      .prefault({})
      .describe("This many dead letters within the window on one destination sends a notice."),
    quota_warning_after_ms: int(1_000, 86_400_000)
      .default(60_000)
      .describe(
        "A destination answering 429 this long sends a notice (it parks later, after WORKER_PARK_AFTER_RATE_LIMITED_MS).",
      ),
    quota_warning_share: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe(
        "A destination whose requests reach this share of its daily or per-window limit (its budget, or the usage the CRM reports) sends a notice, before the CRM refuses anything.",
      ),
  })
  .describe("Operational notices and automatic resume of parked destinations.");
export type Operator = z.infer<typeof OperatorSchema>;
