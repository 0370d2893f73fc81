import { HandoffSnapshotSchema } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { applyMapping } from "../mapping/evaluate.js";
import { mappingView } from "../mapping/view.js";
import {
  buildServiceNowBody,
  SERVICENOW_DEFAULT_MAPPING,
  serviceNowCorrelationId,
  serviceNowLookupQuery,
} from "./mapping.js";

const at = "2025-03-01T10:00:00.000Z";
const snapshot = HandoffSnapshotSchema.parse({
  schema_version: 1,
  key: "conv-7",
  id: "conv-7",
  state: "customer_refund",
  stage: "initiated",
  version: 4,
  occurred_at: at,
  data: {
    customer_id: "C-42",
    verification_status: "verified",
    caller_id: "6816f79cc0a8016401c5a33be04be441",
  },
  reason: "refund over limit",
  channel: "chat",
  history: [
    {
      event_id: "e1",
      id: "conv-7",
      state: "customer_refund",
      stage: "initiated",
      occurred_at: at,
      received_at: at,
      data: {},
    },
  ],
  created_at: at,
  updated_at: at,
});

describe("ServiceNow default mapping", () => {
  it("fills the incident fields the agent reads, leaving absent references out", () => {
    const mapped = applyMapping(SERVICENOW_DEFAULT_MAPPING, mappingView(snapshot, "snow"));
    expect(mapped).toEqual({
      short_description: "refund over limit",
      description:
        "Handoff conv-7 from conversation conv-7\nState: customer_refund (initiated)\nChannel: chat\nReason: refund over limit\nCustomer: C-42\nVerification: verified",
      caller_id: "6816f79cc0a8016401c5a33be04be441",
      work_notes: `handoff-sync: customer_refund (version 4) at ${at}`,
    });
  });

  it("falls back to a generic short description and truncates to the column's 160 characters", () => {
    const long = applyMapping(
      SERVICENOW_DEFAULT_MAPPING,
      mappingView({ ...snapshot, reason: "x".repeat(300) }, "snow"),
    );
    expect(long["short_description"]).toHaveLength(160);
    const { reason: _reason, ...withoutReason } = snapshot;
    const none = applyMapping(SERVICENOW_DEFAULT_MAPPING, mappingView(withoutReason, "snow"));
    expect(none["short_description"]).toBe("AI-to-human handoff");
  });
});

describe("buildServiceNowBody", () => {
  it("adds the fields the adapter owns, over anything a mapping put there", () => {
    const body = buildServiceNowBody(
      {
        short_description: "s",
        correlation_id: "spoofed",
        u_handoff_version: 99,
        u_tags: ["a", "b"],
        u_note: null,
      },
      { correlationId: "conv-7", version: 4, versionField: "u_handoff_version" },
    );
    expect(body).toEqual({
      short_description: "s",
      correlation_id: "conv-7",
      correlation_display: "handoff-sync",
      u_handoff_version: 4,
      u_tags: '["a","b"]',
      u_note: "",
    });
  });
});

describe("serviceNowCorrelationId", () => {
  it("keeps keys ServiceNow can store and query verbatim", () => {
    expect(serviceNowCorrelationId("conv-7")).toBe("conv-7");
    expect(serviceNowCorrelationId("a".repeat(100))).toBe("a".repeat(100));
  });

  it.each(["a^NQsys_id=x", "with space", "ünïcode", "a".repeat(101)])("digests %s", (key) => {
    const id = serviceNowCorrelationId(key);
    expect(id).toMatch(/^hs-sha256-[0-9a-f]{64}$/);
    expect(serviceNowCorrelationId(key)).toBe(id);
  });

  it("builds the oldest-first lookup query", () => {
    expect(serviceNowLookupQuery("conv-7")).toBe("correlation_id=conv-7^ORDERBYsys_created_on");
  });
});
