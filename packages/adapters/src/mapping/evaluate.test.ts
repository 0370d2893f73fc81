import { FieldMappingSchema } from "@handoff-sync/config";
import type { HandoffSnapshot } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { applyMapping } from "./evaluate.js";
import { mappingView } from "./view.js";

const snapshot: HandoffSnapshot = {
  schema_version: 1,
  key: "acme-1",
  id: "conv-1",
  shared_id: "acme-1",
  state: "handoff_failed",
  stage: "failed",
  version: 3,
  occurred_at: "2026-11-25T10:00:00.000Z",
  created_at: "2026-11-25T09:59:00.000Z",
  updated_at: "2026-11-25T10:00:01.000Z",
  data: { customer_id: "12345", entities: ["refund", "card"], note: "héllo wörld", empty: "" },
  base_data: {},
  history: [],
};

const map = (mapping: unknown) =>
  applyMapping(FieldMappingSchema.parse(mapping), mappingView(snapshot, "zendesk"));

describe("field mapping", () => {
  it("reads paths, literals and templates", () => {
    expect(
      map({
        Customer__c: "data.customer_id",
        Origin: { literal: "AI agent" },
        Subject: { template: "Handoff {{state}} for {{ data.customer_id }} ({{missing.path}})" },
        Target: { path: "target" },
      }),
    ).toEqual({
      Customer__c: "12345",
      Origin: "AI agent",
      Subject: "Handoff handoff_failed for 12345 ()",
      Target: "zendesk",
    });
  });

  it("applies lookup, default, join, date format and truncate", () => {
    expect(
      map({
        status: { path: "state", lookup: { handoff_completed: "solved", handoff_failed: "open" } },
        priority: { path: "state", lookup: { handoff_completed: "low" }, default: "normal" },
        empty: { path: "data.empty", default: "n/a" },
        tags: { path: "data.entities", join: "," },
        day: { path: "occurred_at", date_format: "date" },
        epoch: { path: "occurred_at", date_format: "epoch_s" },
        short: { path: "data.note", truncate: 4 },
      }),
    ).toEqual({
      status: "open",
      priority: "normal",
      empty: "n/a",
      tags: "refund,card",
      day: "2026-11-25",
      epoch: 1795600800,
      short: "héll",
    });
  });

  it("leaves out fields whose value is missing, so the CRM keeps what it has", () => {
    expect(map({ a: "data.nope", b: { path: "data.nope", truncate: 3 } })).toEqual({});
  });

  it("rejects a rule with no source or two sources, naming the problem", () => {
    const result = FieldMappingSchema.safeParse({ x: { literal: 1, path: "state" }, y: { truncate: 3 } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual(
      expect.arrayContaining([
        "x: give exactly one of path, literal or template",
        "y: give exactly one of path, literal or template",
      ]),
    );
  });
});
