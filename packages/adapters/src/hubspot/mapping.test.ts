import { HandoffSnapshotSchema, type HandoffSnapshot } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { associationBody, contactToAssociate, hubSpotProperties, hubSpotUpsertBody } from "./mapping.js";

const at = "2026-03-01T10:00:00.000Z";
function snapshot(
  data: Record<string, unknown>,
  stage: "initiated" | "completed" | "failed" = "failed",
): HandoffSnapshot {
  const state = `handoff_${stage}`;
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key: "shared-7",
    id: "conv-7",
    state,
    stage,
    version: 4,
    occurred_at: at,
    data,
    history: [{ event_id: "e1", id: "conv-7", state, stage, occurred_at: at, received_at: at, data }],
    created_at: at,
    updated_at: at,
  });
}

const settings = {
  id_property: "handoff_key",
  version_property: "handoff_version",
  contact_association: {
    enabled: true,
    path: "data.hubspot_contact_id",
    association_type_id: 16,
    association_category: "HUBSPOT_DEFINED" as const,
  },
};

describe("hubSpotProperties", () => {
  it("applies the default mapping and sets key and version as text", () => {
    expect(hubSpotProperties(snapshot({}), "hs", settings)).toEqual({
      subject: "Handoff shared-7: handoff_failed",
      content: "Conversation handed off to a live agent.",
      hs_pipeline: "0",
      hs_pipeline_stage: "3",
      handoff_state: "handoff_failed",
      handoff_key: "shared-7",
      handoff_version: "4",
    });
  });

  it("never lets a mapping override the key or the version", () => {
    const mapping = {
      handoff_key: { literal: "other" },
      handoff_version: { literal: 99 },
      amount: { path: "data.amount" },
      flags: { path: "data.flags" },
    };
    expect(
      hubSpotProperties(snapshot({ amount: 12.5, flags: { vip: true } }), "hs", { ...settings, mapping }),
    ).toEqual({
      handoff_key: "shared-7",
      handoff_version: "4",
      amount: "12.5",
      flags: '{"vip":true}',
    });
  });

  it("builds one upsert input", () => {
    expect(hubSpotUpsertBody("k", "handoff_key", { a: "1" })).toEqual({
      inputs: [{ idProperty: "handoff_key", id: "k", properties: { a: "1" } }],
    });
  });
});

describe("contactToAssociate", () => {
  it.each([
    [{ hubspot_contact_id: "501" }, { kind: "contact", id: "501" }],
    [{ hubspot_contact_id: 501 }, { kind: "contact", id: "501" }],
    [{}, { kind: "none" }],
    [{ hubspot_contact_id: "" }, { kind: "none" }],
    [{ hubspot_contact_id: null }, { kind: "none" }],
    [{ hubspot_contact_id: "ada@example.com" }, { kind: "invalid" }],
    [{ hubspot_contact_id: 5.5 }, { kind: "invalid" }],
  ])("%o -> %o", (data, expected) => {
    expect(contactToAssociate(snapshot(data), "hs", settings)).toEqual(expected);
  });

  it("is off when disabled", () => {
    const off = { ...settings, contact_association: { ...settings.contact_association, enabled: false } };
    expect(contactToAssociate(snapshot({ hubspot_contact_id: "1" }), "hs", off)).toEqual({ kind: "none" });
  });

  it("sends the configured association type", () => {
    expect(associationBody(settings)).toEqual([
      { associationCategory: "HUBSPOT_DEFINED", associationTypeId: 16 },
    ]);
  });
});
