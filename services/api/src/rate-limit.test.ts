import { describe, expect, it } from "vitest";
import { createRateLimiter } from "./rate-limit.js";

describe("rate limiter", () => {
  it("lets a burst through, then one request per refill interval", () => {
    const limiter = createRateLimiter({ perSecond: 10, burst: 3 });
    expect([0, 0, 0].map(() => limiter.take("a", 1000))).toEqual([0, 0, 0]);
    expect(limiter.take("a", 1000)).toBe(100);
    expect(limiter.take("a", 1050)).toBe(50);
    expect(limiter.take("a", 1100)).toBe(0);
  });

  it("keeps clients apart and forgets the longest idle beyond its size", () => {
    const limiter = createRateLimiter({ perSecond: 1, burst: 1, maxClients: 2 });
    expect(limiter.take("a", 0)).toBe(0);
    expect(limiter.take("b", 0)).toBe(0);
    expect(limiter.take("a", 0)).toBe(1000);
    expect(limiter.take("c", 0)).toBe(0);
    // b was the longest idle: dropped, so full again.
    expect(limiter.take("b", 0)).toBe(0);
  });
});
