import { LIFECYCLE_STATES, LifecycleStageSchema, StateNameSchema } from "@handoff-sync/schema";
import { z } from "zod";
import { SecretRefSchema } from "./secret-ref.js";

const DESTINATION_NAME = /^[a-z][a-z0-9-]{0,40}$/;

const LIFECYCLE_STATE_NAMES: readonly string[] = Object.keys(LIFECYCLE_STATES);

const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const RetryPolicySchema = z.strictObject({
  attempts: int(1, 100).default(8),
  base_delay_ms: int(0, 86_400_000).default(1_000),
  max_delay_ms: int(0, 86_400_000).default(300_000),
  /** A screen-pop that arrives minutes late is useless: past this age a delivery is dead-lettered as expired. */
  deadline_ms: int(1, 7 * 86_400_000).optional(),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/** Fields every destination type shares: queue isolation settings live beside the endpoint. */
const destinationBase = {
  timeout_ms: int(100, 120_000).default(10_000),
  concurrency: int(1, 1_000).default(4),
  // `prefault` parses the default, so the inner defaults apply when `retry` is omitted.
  retry: RetryPolicySchema.prefault({}),
};

export const WebhookDestinationSchema = z.strictObject({
  type: z.literal("webhook"),
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
  /** One ref, or several while rotating: every secret signs, so receivers can switch at leisure. */
  // Preprocessing instead of a union keeps the ref's own message ("use env:...") instead of "Invalid input".
  secret: z.preprocess(
    (value) => (typeof value === "string" ? [value] : value),
    z.array(SecretRefSchema).min(1),
  ),
  allow_private_network: z.boolean().default(false),
  ...destinationBase,
});
export type WebhookDestination = z.infer<typeof WebhookDestinationSchema>;

/** New adapters add their schema here; the registry in @handoff-sync/adapters must then handle the type. */
export const DestinationSchema = z.discriminatedUnion("type", [WebhookDestinationSchema]);
export type Destination = z.infer<typeof DestinationSchema>;
export type DestinationType = Destination["type"];

export const RouteSchema = z.strictObject({
  match: z
    .strictObject({
      states: z.array(z.string()).min(1).optional(),
      stages: z.array(LifecycleStageSchema).min(1).optional(),
      channels: z.array(z.string().min(1)).min(1).optional(),
    })
    .optional(),
  destinations: z.array(z.string()).min(1),
});
export type Route = z.infer<typeof RouteSchema>;

export const SourceSchema = z.strictObject({
  topic: z.string().min(1).default("handoff.events"),
  rejected_topic: z.string().min(1).default("handoff.events.dlq"),
  max_message_bytes: int(1_024, 100 * 1_048_576).default(1_048_576),
});

export const DestinationsFileSchema = z
  .strictObject({
    version: z.literal(1),
    source: SourceSchema.prefault({}),
    states: z.record(StateNameSchema, LifecycleStageSchema).default({}),
    destinations: z.record(
      z
        .string()
        .regex(
          DESTINATION_NAME,
          "destination names are lowercase slugs (a-z, 0-9, '-'), at most 41 characters",
        ),
      DestinationSchema,
    ),
    /** Omitted: every destination gets every event. */
    routes: z.array(RouteSchema).optional(),
  })
  .superRefine((file, ctx) => {
    for (const name of Object.keys(file.states)) {
      if (LIFECYCLE_STATE_NAMES.includes(name)) {
        ctx.addIssue({
          code: "custom",
          path: ["states", name],
          message: `"${name}" is a lifecycle state and cannot be redeclared`,
        });
      }
    }
    const known = new Set([...LIFECYCLE_STATE_NAMES, ...Object.keys(file.states)]);
    file.routes?.forEach((route, index) => {
      route.destinations.forEach((name, at) => {
        if (!Object.hasOwn(file.destinations, name)) {
          ctx.addIssue({
            code: "custom",
            path: ["routes", index, "destinations", at],
            message: `unknown destination "${name}"`,
          });
        }
      });
      route.match?.states?.forEach((state, at) => {
        if (!known.has(state)) {
          ctx.addIssue({
            code: "custom",
            path: ["routes", index, "match", "states", at],
            message: `unknown state "${state}": use a lifecycle state (${LIFECYCLE_STATE_NAMES.join(", ")}) or declare it under "states"`,
          });
        }
      });
    });
  });
export type DestinationsFile = z.infer<typeof DestinationsFileSchema>;
