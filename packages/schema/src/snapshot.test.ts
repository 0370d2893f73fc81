import { describe, expect, it } from "vitest";
import { HandoffSnapshotSchema } from "./snapshot.js";

const entry = (eventId: string, occurredAt: string, state: string) => ({
  event_id: eventId,
  id: "conv-1",
  shared_id: "acme-1",
  state,
  stage: state === "handoff_completed" ? "completed" : "initiated",
  occurred_at: occurredAt,
  received_at: occurredAt,
  data: {},
});

const minimal = {
  schema_version: 1,
  key: "acme-1",
  id: "conv-1",
  shared_id: "acme-1",
  state: "handoff_initiated",
  stage: "initiated",
  version: 1,
  occurred_at: "2026-11-20T09:00:00.000Z",
  data: {},
  history: [entry("e1", "2026-11-20T09:00:00.000Z", "handoff_initiated")],
  created_at: "2026-11-20T09:00:01.000Z",
  updated_at: "2026-11-20T09:00:01.000Z",
};

describe("reading older v1 snapshots", () => {
  it("parses a snapshot without the optional fields added since, with their defaults", () => {
    const parsed = HandoffSnapshotSchema.parse(minimal);
    expect(parsed.base_data).toEqual({});
    expect(parsed.truncated).toBeUndefined();
  });

  it("drops fields it does not know (a newer writer's additions)", () => {
    expect(HandoffSnapshotSchema.parse({ ...minimal, sla_tier: "gold" })).not.toHaveProperty("sla_tier");
  });

  it("lifts the first writer's truncation: plain labels and no data_positions", () => {
    const parsed = HandoffSnapshotSchema.parse({
      ...minimal,
      version: 7,
      base_data: { customer_id: "c-1", reason: "refund" },
      truncated: {
        through_occurred_at: "2026-11-20T08:59:00.000Z",
        through_event_id: "e0",
        state: "handoff_initiated",
        stage: "initiated",
        channel: "voice",
      },
    });
    const stamp = { occurred_at: "2026-11-20T08:59:00.000Z", event_id: "e0" };
    expect(parsed.truncated).toEqual({
      through_occurred_at: stamp.occurred_at,
      through_event_id: stamp.event_id,
      state: "handoff_initiated",
      stage: "initiated",
      data_positions: { customer_id: stamp, reason: stamp },
      channel: { ...stamp, value: "voice" },
    });
  });

  it("still refuses another schema_version", () => {
    expect(HandoffSnapshotSchema.safeParse({ ...minimal, schema_version: 2 }).success).toBe(false);
  });
});
