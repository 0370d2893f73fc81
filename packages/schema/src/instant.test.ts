import { describe, expect, it } from "vitest";
import { compareInstants } from "./instant.js";

describe("compareInstants", () => {
  it.each([
    ["2025-01-01T00:00:00Z", "2025-01-01T01:00:00+01:00", 0],
    ["2025-01-01T00:00:00.5Z", "2025-01-01T00:00:00.500000Z", 0],
    ["2025-01-01T00:00:00.0000001Z", "2025-01-01T00:00:00Z", 1],
    ["2025-01-01T00:00:00.999Z", "2025-01-01T00:00:01Z", -1],
    ["2025-01-01T05:29:59.9999+05:30", "2025-01-01T00:00:00Z", -1],
  ])("%s vs %s -> %i", (a, b, expected) => {
    expect(Math.sign(compareInstants(a, b))).toBe(expected);
    expect(Math.sign(compareInstants(b, a))).toBe(-expected || 0);
  });
});
