import { HandoffSnapshotSchema, type HandoffSnapshot } from "@handoff-sync/schema";

export interface SnapshotFixture {
  readonly at?: string;
  readonly key?: string;
  readonly data?: Record<string, unknown>;
  readonly reason?: string;
}

/**
 * A valid one-event snapshot (`handoff_initiated`, version 1) for adapter tests, so each test says
 * only what differs: when it happened, its key, its data.
 */
export function snapshotFixture(fixture: SnapshotFixture = {}): HandoffSnapshot {
  const at = fixture.at ?? "2025-03-01T10:00:00.000Z";
  const key = fixture.key ?? "conv-1";
  const data = fixture.data ?? { customer_id: "C-42" };
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key,
    id: key,
    state: "handoff_initiated",
    stage: "initiated",
    version: 1,
    occurred_at: at,
    data,
    ...(fixture.reason !== undefined ? { reason: fixture.reason } : {}),
    history: [
      {
        event_id: "e1",
        id: key,
        state: "handoff_initiated",
        stage: "initiated",
        occurred_at: at,
        received_at: at,
        data,
      },
    ],
    created_at: at,
    updated_at: at,
  });
}
