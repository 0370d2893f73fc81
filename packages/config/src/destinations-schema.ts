import { LIFECYCLE_STATES, LifecycleStageSchema, StateNameSchema } from "@handoff-sync/schema";
import { z } from "zod";
import { WebhookDestinationSchema } from "./destinations/webhook.js";
import { int } from "./destinations/base.js";

const DESTINATION_NAME = /^[a-z][a-z0-9-]{0,40}$/;

const LIFECYCLE_STATE_NAMES: readonly string[] = Object.keys(LIFECYCLE_STATES);

/**
 * New adapters add their schema in destinations/<type>.ts and list it here; the registry in
 * @handoff-sync/adapters must then handle the type.
 */
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
