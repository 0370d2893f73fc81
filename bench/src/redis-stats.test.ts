import { describe, expect, it } from "vitest";
import { parseCommandStats, parseRedisCpu, redisCostBetween } from "./redis-stats.js";

describe("Redis counters", () => {
  it("reads calls per command and the server's CPU seconds from INFO", () => {
    const stats = [
      "# Commandstats",
      "cmdstat_evalsha:calls=120,usec=900,usec_per_call=7.50,rejected_calls=0,failed_calls=0",
      "cmdstat_hget:calls=7,usec=7,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
      "cmdstat_info:calls=3,usec=30,usec_per_call=10.00,rejected_calls=0,failed_calls=0",
    ].join("\r\n");
    expect(parseCommandStats(stats)).toEqual({ evalsha: 120, hget: 7, info: 3 });
    expect(parseRedisCpu("# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\n")).toBeCloseTo(3.75);
  });

  it("gives the cost per 1,000 events between two readings, largest first, without its own INFO calls", () => {
    const before = { calls: { evalsha: 100, hget: 10, info: 1 }, cpuSeconds: 1 };
    const after = { calls: { evalsha: 500, hget: 30, info: 3, zadd: 20 }, cpuSeconds: 1.4 };
    const cost = redisCostBetween(before, after, 200);
    expect(cost.byCommand).toEqual({ evalsha: 2000, hget: 100, zadd: 100 });
    expect(Object.keys(cost.byCommand)).toEqual(["evalsha", "hget", "zadd"]);
    expect(cost.commandsPer1000).toBe(2200);
    expect(cost.cpuSecondsPer1000).toBeCloseTo(2);
  });
});
