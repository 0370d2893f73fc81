import { createStateCatalogue, DEFAULT_EVENT_LIMITS } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { decodeHandoffEvent } from "./decode.js";

const catalogue = createStateCatalogue({});
const NOW = Date.parse("2026-12-04T12:00:00Z");
const options = { maxBytes: 1_048_576, catalogue, now: NOW };
const event = (patch: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      event_id: "e1",
      id: "conv-1",
      state: "handoff_initiated",
      occurred_at: "2026-12-04T11:59:00Z",
      ...patch,
    }),
  );

describe("decodeHandoffEvent limits", () => {
  it("rejects the 20,000-deep record of about 120 KB as too_deep", () => {
    const value = Buffer.from(
      `{"event_id":"e1","id":"conv-1","state":"handoff_initiated","occurred_at":"2026-12-04T11:59:00Z","data":${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}}`,
    );
    expect(value.length).toBeGreaterThan(100_000);
    expect(decodeHandoffEvent(value, options)).toMatchObject({ ok: false, reason: "too_deep" });
  });

  it("rejects bytes that are not UTF-8 instead of replacing them", () => {
    const value = Buffer.concat([
      Buffer.from('{"event_id":"e1","id":"conv-'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('","state":"handoff_initiated","occurred_at":"2026-12-04T11:59:00Z"}'),
    ]);
    expect(decodeHandoffEvent(value, options)).toEqual({
      ok: false,
      reason: "invalid_encoding",
      error: "record is not valid UTF-8",
    });
  });

  it("rejects an occurred_at beyond the clock skew as clock_skew, naming the field", () => {
    const far = decodeHandoffEvent(event({ occurred_at: "9999-12-31T23:59:59.999Z" }), options);
    expect(far).toMatchObject({ ok: false, reason: "clock_skew" });
    expect(far.ok ? "" : "error" in far ? far.error : "").toMatch(
      /^occurred_at: 9999-12-31T23:59:59.999Z is \d+ days ahead of the consumer's clock; the limit is 300000 ms/,
    );
    expect(decodeHandoffEvent(event({ occurred_at: "2026-12-04T12:05:01Z" }), options)).toMatchObject({
      ok: false,
      reason: "clock_skew",
    });
    expect(decodeHandoffEvent(event({ occurred_at: "2026-12-04T12:05:00Z" }), options)).toMatchObject({
      ok: true,
    });
    expect(decodeHandoffEvent(event({ occurred_at: "2026-12-04T13:05:00+01:00" }), options)).toMatchObject({
      ok: true,
    });
  });

  it("accepts events far in the past: they join the history", () => {
    expect(decodeHandoffEvent(event({ occurred_at: "0001-01-01T00:00:00Z" }), options)).toMatchObject({
      ok: true,
    });
  });

  it("takes the skew from the configured limits", () => {
    const limits = { ...DEFAULT_EVENT_LIMITS, max_clock_skew_ms: 0 };
    expect(
      decodeHandoffEvent(event({ occurred_at: "2026-12-04T12:00:01Z" }), { ...options, limits }),
    ).toMatchObject({ ok: false, reason: "clock_skew" });
  });

  it("rejects a NUL in shared_id as a schema violation that names the field", () => {
    expect(decodeHandoffEvent(event({ shared_id: "acme\u00009" }), options)).toMatchObject({
      ok: false,
      reason: "schema_violation",
      error: expect.stringContaining("shared_id: Must not contain control characters") as unknown,
    });
  });

  it("checks the shape of other formats before hashing them", () => {
    const deep = JSON.parse(
      `{"conversation_id":"c1","end_conversation":true,"handoff":{},"x":${"[".repeat(40)}${"]".repeat(40)}}`,
    ) as unknown;
    expect(
      decodeHandoffEvent(Buffer.from(JSON.stringify(deep)), {
        ...options,
        input: { format: "chat_respond" },
      }),
    ).toMatchObject({ ok: false, reason: "too_deep" });
  });
});
