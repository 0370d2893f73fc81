import {
  EventLimitsSchema,
  LIFECYCLE_STATES,
  LifecycleStageSchema,
  StateNameSchema,
} from "@handoff-sync/schema";
import { z } from "zod";
import { WebhookDestinationSchema } from "./destinations/webhook.js";
import { HubSpotDestinationSchema } from "./destinations/hubspot.js";
import { ZendeskDestinationSchema } from "./destinations/zendesk.js";
import { SalesforceDestinationSchema } from "./destinations/salesforce.js";
import { ServiceNowDestinationSchema } from "./destinations/servicenow.js";
import { int } from "./destinations/base.js";
import { didYouMean } from "./did-you-mean.js";
import { HttpIngestSchema } from "./http-ingest.js";
import { OperatorSchema } from "./operator.js";
import { checkSourceInputs, sourceInputFields } from "./source-inputs.js";

const DESTINATION_NAME = /^[a-z][a-z0-9-]{0,40}$/;

const LIFECYCLE_STATE_NAMES: readonly string[] = Object.keys(LIFECYCLE_STATES);

/**
 * New adapters add their schema in destinations/<type>.ts and list it here; the registry in
 * @handoff-sync/adapters must then handle the type.
 */
export const DestinationSchema = z.discriminatedUnion("type", [
  WebhookDestinationSchema,
  HubSpotDestinationSchema,
  ZendeskDestinationSchema,
  SalesforceDestinationSchema,
  ServiceNowDestinationSchema,
]);
export type Destination = z.infer<typeof DestinationSchema>;
export type DestinationType = Destination["type"];

const labels = z.array(z.string().min(1)).min(1);

export const RouteMatchSchema = z
  .strictObject({
    states: z
      .array(z.string())
      .min(1)
      .optional()
      .describe("Lifecycle states or states declared under `states`."),
    stages: z
      .array(LifecycleStageSchema)
      .min(1)
      .optional()
      .describe("Lifecycle stages: initiated, completed, failed."),
    channels: labels
      .optional()
      .describe("The event's `channel`; a route with channels never matches an event without one."),
    destinations: labels
      .optional()
      .describe(
        "The event's `destination` label (e.g. a queue name from the chat API), not a destination of this file.",
      ),
    reasons: labels
      .optional()
      .describe("The event's `reason`; a route with reasons never matches an event without one."),
  })
  .describe(
    "All given criteria must hold; within one list any value matches. Omitted: the route matches every event.",
  );
export type RouteMatch = z.infer<typeof RouteMatchSchema>;

export const RouteSchema = z.strictObject({
  match: RouteMatchSchema.optional(),
  destinations: z.array(z.string()).min(1),
  /**
   * Fallbacks: besides `destinations`, these get a matching event whose state is at stage `failed`
   * (e.g. a callback task when no live agent took the handoff).
   */
  on_failed: z
    .array(z.string())
    .min(1)
    .optional()
    .describe(
      "Fallback destinations that also get a matching event whose state is at stage failed (e.g. a callback task).",
    ),
});
export type Route = z.infer<typeof RouteSchema>;

export const SourceSchema = z
  .strictObject({
    topic: z.string().min(1).default("handoff.events"),
    rejected_topic: z.string().min(1).default("handoff.events.dlq"),
    max_message_bytes: int(1_024, 100 * 1_048_576).default(1_048_576),
    limits: EventLimitsSchema.prefault({}).describe(
      "Bounds on each record's shape and clock; a record beyond one is rejected with the limit's reason.",
    ),
    ...sourceInputFields,
  })
  .superRefine(checkSourceInputs);

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
    operator: OperatorSchema.prefault({}),
    http_ingest: HttpIngestSchema.prefault({}).describe(
      "HTTP ingestion. Without topic it produces to source.topic, and only when that topic's format is handoff_event.",
    ),
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
    const stages = new Map<string, string>([
      ...Object.entries(LIFECYCLE_STATES),
      ...Object.entries(file.states),
    ]);
    const declared = Object.keys(file.destinations);
    const checkNames = (names: readonly string[], path: readonly (string | number)[]) => {
      names.forEach((name, at) => {
        if (!Object.hasOwn(file.destinations, name)) {
          ctx.addIssue({
            code: "custom",
            path: [...path, at],
            message: `unknown destination "${name}"${didYouMean(name, declared)}`,
          });
        }
      });
    };
    for (const [name, destination] of Object.entries(file.destinations)) {
      const fallback = destination.retry.deadline_fallback;
      if (fallback === undefined) continue;
      checkNames([fallback], ["destinations", name, "retry", "deadline_fallback"]);
      if (fallback === name) {
        ctx.addIssue({
          code: "custom",
          path: ["destinations", name, "retry", "deadline_fallback"],
          message: "a destination cannot be its own deadline fallback",
        });
      }
      if (destination.retry.deadline_ms === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["destinations", name, "retry", "deadline_fallback"],
          message: "needs retry.deadline_ms: without a deadline nothing ever expires",
        });
      }
    }
    file.routes?.forEach((route, index) => {
      checkNames(route.destinations, ["routes", index, "destinations"]);
      if (route.on_failed !== undefined) checkNames(route.on_failed, ["routes", index, "on_failed"]);
      route.match?.states?.forEach((state, at) => {
        if (!stages.has(state)) {
          ctx.addIssue({
            code: "custom",
            path: ["routes", index, "match", "states", at],
            message: `unknown state "${state}"${didYouMean(state, stages.keys())}: use a lifecycle state (${LIFECYCLE_STATE_NAMES.join(", ")}) or declare it under "states"`,
          });
        }
      });
      // A fallback that can never fire is a mistake the author would want to hear about now, not after an outage.
      if (route.on_failed !== undefined) {
        const { stages: matchStages, states: matchStates } = route.match ?? {};
        const failedStates = matchStates?.filter((state) => stages.get(state) === "failed");
        if (matchStages !== undefined && !matchStages.includes("failed")) {
          ctx.addIssue({
            code: "custom",
            path: ["routes", index, "on_failed"],
            message: 'never used: match.stages does not include "failed"',
          });
        } else if (
          failedStates !== undefined &&
          failedStates.length === 0 &&
          matchStates?.every((s) => stages.has(s))
        ) {
          ctx.addIssue({
            code: "custom",
            path: ["routes", index, "on_failed"],
            message: "never used: none of match.states is at stage failed",
          });
        }
      }
    });
  });
export type DestinationsFile = z.infer<typeof DestinationsFileSchema>;
