import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BackoffPolicySchema, computeBackoffMs } from "./backoff.js";

const policy = BackoffPolicySchema.parse({});

describe("BackoffPolicySchema", () => {
  it("has defaults", () => {
    expect(policy).toEqual({ attempts: 8, base_delay_ms: 1000, max_delay_ms: 300_000 });
  });

  it("bounds attempts", () => {
    expect(BackoffPolicySchema.safeParse({ attempts: 0 }).success).toBe(false);
    expect(BackoffPolicySchema.safeParse({ attempts: 101 }).success).toBe(false);
    expect(BackoffPolicySchema.safeParse({ attempts: 100, deadline_ms: 60_000 }).success).toBe(true);
  });
});

describe("computeBackoffMs", () => {
  it("grows exponentially up to the cap", () => {
    const top = () => 0.999_999_999;
    expect(computeBackoffMs(1, policy, top)).toBe(999);
    expect(computeBackoffMs(2, policy, top)).toBe(1999);
    expect(computeBackoffMs(4, policy, top)).toBe(7999);
    expect(computeBackoffMs(20, policy, top)).toBe(299_999);
    expect(computeBackoffMs(5000, policy, top)).toBe(299_999);
    expect(computeBackoffMs(3, policy, () => 0)).toBe(0);
  });

  it("stays within [0, min(cap, base * 2^(n-1))] for any jitter", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attemptsMade, base, cap, r) => {
          const delay = computeBackoffMs(attemptsMade, { base_delay_ms: base, max_delay_ms: cap }, () => r);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.min(cap, base * 2 ** (attemptsMade - 1)));
          expect(Number.isInteger(delay)).toBe(true);
        },
      ),
    );
  });

  it("lets Retry-After win, even above the cap", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (attemptsMade, retryAfterMs) => {
          expect(computeBackoffMs(attemptsMade, policy, () => 0.5, retryAfterMs)).toBe(retryAfterMs);
        },
      ),
    );
    expect(computeBackoffMs(1, policy, () => 0.5, -5)).toBe(0);
  });

  it("ignores a Retry-After that is not a number", () => {
    expect(computeBackoffMs(1, policy, () => 0.5, Number.NaN)).toBe(500);
  });
});
