import { createLogger } from "@handoff-sync/telemetry";
import { describe, expect, it } from "vitest";
import { createRateLimiter, createSharedRateLimiter } from "./rate-limit.js";

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

describe("shared rate limiter", () => {
  it("limits each process on its own while Redis does not answer, rather than refuse ingestion", async () => {
    let redisUp = false;
    const limiter = createSharedRateLimiter({
      scripts: {
        run: () => (redisUp ? Promise.resolve(250) : Promise.reject(new Error("connect ECONNREFUSED"))),
      },
      keyOf: (client) => `rate:${client}`,
      settings: { perSecond: 1, burst: 2 },
      log: createLogger({ level: "silent", service: "test" }),
      now: () => 0,
    });
    expect([await limiter.take("a"), await limiter.take("a"), await limiter.take("a")]).toEqual([0, 0, 1000]);
    redisUp = true;
    expect(await limiter.take("a")).toBe(250);
  });
});
