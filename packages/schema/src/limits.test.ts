import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseHandoffEvent } from "./events.js";
import { checkJsonShape, DEFAULT_EVENT_LIMITS, EventLimitsSchema } from "./limits.js";

function nested(levels: number): Record<string, unknown> {
  let node: Record<string, unknown> = { leaf: true };
  for (let i = 1; i < levels; i++) node = { a: node };
  return node;
}

const limits = { max_depth: 4, max_keys: 20, max_string_length: 10 };

describe("checkJsonShape", () => {
  it("rejects 20,000 levels of nesting without exhausting the stack, naming where", () => {
    const record = JSON.parse(`{"data":${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}}`) as unknown;
    const check = checkJsonShape(record, DEFAULT_EVENT_LIMITS);
    expect(check).toEqual({
      ok: false,
      reason: "too_deep",
      error: expect.stringContaining("nests deeper than 32 levels (source.limits.max_depth)") as unknown,
    });
    expect(check.ok ? "" : check.error).toMatch(/^data\.a\.a\.a\.a\.a… \(33 levels\)/);
  });

  it("counts depth from data's members: depth equal to the limit passes, one more does not", () => {
    expect(checkJsonShape({ data: nested(4) }, limits)).toEqual({ ok: true });
    expect(checkJsonShape({ data: nested(5) }, limits)).toMatchObject({ ok: false, reason: "too_deep" });
    expect(checkJsonShape({ data: { list: [[[1]]] } }, limits)).toEqual({ ok: true });
    expect(checkJsonShape({ data: { list: [[[[1]]]] } }, limits)).toMatchObject({
      ok: false,
      reason: "too_deep",
      error: expect.stringContaining("data.list[0][0][0]") as unknown,
    });
  });

  it("rejects too many keys and items in the whole record as too_complex", () => {
    const keys = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i]));
    expect(checkJsonShape({ data: keys }, limits)).toEqual({ ok: true });
    expect(checkJsonShape({ data: { ...keys, list: [1, 2, 3, 4, 5] } }, limits)).toMatchObject({
      ok: false,
      reason: "too_complex",
    });
  });

  it("rejects long strings and long keys as too_long, at their path", () => {
    expect(checkJsonShape({ data: { note: "x".repeat(10) } }, limits)).toEqual({ ok: true });
    expect(checkJsonShape({ data: { note: "x".repeat(11) } }, limits)).toEqual({
      ok: false,
      reason: "too_long",
      error: "data.note: string of 11 characters; the limit is 10 (source.limits.max_string_length)",
    });
    expect(checkJsonShape({ data: { ["k".repeat(11)]: 1 } }, limits)).toMatchObject({
      ok: false,
      reason: "too_long",
      error: expect.stringContaining("a key of 11 characters") as unknown,
    });
  });

  it("refuses __proto__ keys at any depth, and keeps constructor and prototype", () => {
    expect(checkJsonShape(JSON.parse('{"data":{"x":{"__proto__":{"polluted":1}}}}'), limits)).toEqual({
      ok: false,
      reason: "schema_violation",
      error: "data.x.__proto__: the key __proto__ is not allowed",
    });
    expect(
      checkJsonShape(JSON.parse('{"data":{"constructor":{"prototype":1}}}'), DEFAULT_EVENT_LIMITS),
    ).toEqual({ ok: true });
  });

  it("rejects numbers JSON.parse turned into Infinity", () => {
    expect(checkJsonShape(JSON.parse('{"data":{"n":1e400}}'), limits)).toMatchObject({
      ok: false,
      reason: "invalid_json",
      error: "data.n: number is beyond the range of a double",
    });
  });

  it("never throws and agrees with a recursive measure on any JSON", () => {
    const hasProtoKey = (value: unknown): boolean =>
      value !== null &&
      typeof value === "object" &&
      Object.entries(value).some(([key, inner]) => key === "__proto__" || hasProtoKey(inner));
    const depthOf = (value: unknown): number =>
      value !== null && typeof value === "object" ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (data) => {
        const check = checkJsonShape(
          { data },
          { max_depth: 5, max_keys: 1_000_000, max_string_length: 1_000_000 },
        );
        // A `__proto__` key is refused whatever the depth (it would be dropped or rewire the prototype).
        if (hasProtoKey(data)) {
          expect(check.ok).toBe(false);
          return;
        }
        const depth = depthOf(data);
        expect(check.ok || check.reason === "too_deep").toBe(true);
        expect(check.ok).toBe(depth <= 5);
      }),
    );
  });

  it("has safe defaults and refuses nonsense settings", () => {
    expect(DEFAULT_EVENT_LIMITS).toEqual({
      max_depth: 32,
      max_keys: 10_000,
      max_string_length: 65_536,
      max_snapshot_bytes: 2_097_152,
      max_clock_skew_ms: 300_000,
    });
    expect(EventLimitsSchema.safeParse({ max_depth: 0 }).success).toBe(false);
    expect(EventLimitsSchema.safeParse({ max_dept: 3 }).success).toBe(false);
  });
});

describe("identifiers", () => {
  it("accept what CRM keys can hold: letters of any script, digits, punctuation, spaces", () => {
    for (const id of ["conv-1", "Ünïcødé 会話 42", "a:b/c.d", "emoji-🙂"]) {
      expect(
        parseHandoffEvent({
          event_id: "e1",
          id,
          shared_id: id,
          state: "handoff_initiated",
          occurred_at: "2026-11-25T10:00:00Z",
        }).ok,
      ).toBe(true);
    }
  });
});
