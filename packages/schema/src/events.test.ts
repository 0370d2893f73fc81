import { describe, expect, it } from "vitest";
import { handoffKeyOf, parseHandoffEvent, type HandoffEventInput } from "./events.js";

const valid: HandoffEventInput = {
  event_id: "evt-1",
  id: "0bba04d7-38b3-4fd3-a1a8-329c34517fc1",
  shared_id: "acme_inc_sdklfasdklfjasbdfklabs",
  state: "handoff_initiated",
  occurred_at: "2025-01-02T03:04:05.678+01:00",
  data: { customer_id: "12345", handoff_reason: "successfully_identified" },
  channel: "voice",
  destination: "live_agent_queue",
  reason: "billing_question",
};

function problemsFor(raw: unknown): string {
  const result = parseHandoffEvent(raw);
  if (result.ok) throw new Error("expected a schema violation");
  expect(result.reason).toBe("schema_violation");
  return result.message;
}

describe("parseHandoffEvent", () => {
  it("accepts a full event and applies defaults", () => {
    const result = parseHandoffEvent(valid);
    expect(result).toEqual({ ok: true, event: { ...valid, schema_version: 1 } });
  });

  it("defaults data to {} and schema_version to 1", () => {
    const result = parseHandoffEvent({
      event_id: "e",
      id: "c",
      state: "customer_refund",
      occurred_at: "2025-01-01T00:00:00Z",
    });
    expect(result.ok && result.event).toEqual({
      schema_version: 1,
      event_id: "e",
      id: "c",
      state: "customer_refund",
      occurred_at: "2025-01-01T00:00:00Z",
      data: {},
    });
  });

  it("names every missing field", () => {
    const message = problemsFor({});
    for (const field of ["event_id", "id", "state", "occurred_at"]) {
      expect(message).toContain(`${field}: Required`);
    }
  });

  it.each([
    [{ occurred_at: "2025-01-01 10:00" }, "occurred_at: Invalid ISO datetime"],
    [{ occurred_at: "2025-01-01T10:00:00" }, "occurred_at: Invalid ISO datetime"],
    [{ state: "Handoff-Initiated" }, "state: Must be snake_case"],
    [{ state: "x".repeat(65) }, "state: Must be snake_case"],
    [{ event_id: "" }, "event_id: Must not be empty"],
    [{ id: "x".repeat(201) }, "id: Must be at most 200 characters"],
    [{ shared_id: "" }, "shared_id: Must not be empty"],
    [{ shared_id: "a\uD800" }, "shared_id: Must be well-formed Unicode"],
    [
      { shared_id: "acme\u00009" },
      "shared_id: Must not contain control characters, line separators or noncharacters (U+0000 at position 4)",
    ],
    [
      { id: "conv\n1" },
      "id: Must not contain control characters, line separators or noncharacters (U+000A at position 4)",
    ],
    [
      { event_id: "e\u007f" },
      "event_id: Must not contain control characters, line separators or noncharacters (U+007F at position 1)",
    ],
    [
      { shared_id: "a\u0085b" },
      "shared_id: Must not contain control characters, line separators or noncharacters (U+0085 at position 1)",
    ],
    [
      { id: "a\u2028b" },
      "id: Must not contain control characters, line separators or noncharacters (U+2028 at position 1)",
    ],
    [
      { shared_id: "a\uFFFE" },
      "shared_id: Must not contain control characters, line separators or noncharacters (U+FFFE at position 1)",
    ],
    [{ schema_version: 2 }, "schema_version: Invalid input: expected 1"],
    [{ data: [] }, "data: Invalid input: expected record, received array"],
    [{ channel: 7 }, "channel: Invalid input: expected string, received number"],
    [{ sharedId: "typo" }, "sharedId: Unknown field"],
  ])("rejects %j with %s", (patch, expected) => {
    expect(problemsFor({ ...valid, ...patch })).toContain(expected);
  });

  it("lists several problems at once with dotted paths", () => {
    const result = parseHandoffEvent({ ...valid, state: "BAD", occurred_at: "yesterday", extra: 1 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.path).sort()).toEqual(["extra", "occurred_at", "state"]);
  });

  it.each([null, [], "text", 42])("rejects a non-object payload %j at the root", (raw) => {
    expect(problemsFor(raw)).toMatch(/^\(root\): Invalid input: expected object/);
  });

  it("accepts any offset and sub-millisecond precision", () => {
    for (const occurred_at of [
      "2025-01-01T00:00:00Z",
      "2025-01-01T00:00:00.123456-05:30",
      "2025-01-01T00:00:00+00:00",
    ]) {
      expect(parseHandoffEvent({ ...valid, occurred_at }).ok).toBe(true);
    }
  });
});

describe("handoffKeyOf", () => {
  it("prefers shared_id, falls back to id", () => {
    expect(handoffKeyOf({ id: "c1", shared_id: "s1" })).toBe("s1");
    expect(handoffKeyOf({ id: "c1" })).toBe("c1");
  });
});
