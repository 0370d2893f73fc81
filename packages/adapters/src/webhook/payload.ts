import { LifecycleStageSchema, type HandoffSnapshot } from "@handoff-sync/schema";
import { z } from "zod";

export const WEBHOOK_EVENT_TYPE = "handoff.updated";

/** What receivers get; loose objects so receivers built against it survive fields we add later. */
export const WebhookPayloadSchema = z.looseObject({
  type: z.literal(WEBHOOK_EVENT_TYPE),
  timestamp: z.string(),
  data: z.looseObject({
    key: z.string(),
    id: z.string(),
    shared_id: z.string().nullable(),
    state: z.string(),
    stage: LifecycleStageSchema,
    version: z.number().int(),
    occurred_at: z.string(),
    data: z.record(z.string(), z.unknown()),
    channel: z.string().nullable(),
    destination: z.string().nullable(),
    reason: z.string().nullable(),
  }),
});
export type WebhookPayload = z.infer<typeof WebhookPayloadSchema>;

/**
 * The JSON body, built only from the snapshot so every retry of one version sends the same bytes.
 * Absent optional fields are sent as null: receivers get a fixed shape.
 */
export function webhookBody(snapshot: HandoffSnapshot): string {
  const payload: WebhookPayload = {
    type: WEBHOOK_EVENT_TYPE,
    timestamp: snapshot.occurred_at,
    data: {
      key: snapshot.key,
      id: snapshot.id,
      shared_id: snapshot.shared_id ?? null,
      state: snapshot.state,
      stage: snapshot.stage,
      version: snapshot.version,
      occurred_at: snapshot.occurred_at,
      data: snapshot.data,
      channel: snapshot.channel ?? null,
      destination: snapshot.destination ?? null,
      reason: snapshot.reason ?? null,
    },
  };
  return JSON.stringify(payload);
}
