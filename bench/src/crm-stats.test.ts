import { describe, expect, it } from "vitest";
import { crmTargets, drainRate } from "./crm-stats.js";
import { parseBenchOptions } from "./options.js";

describe("drainRate", () => {
  it("is first to last arrival when the backlog drained within the span", () => {
    const arrivals = [1_000, 1_500, 2_000, 3_000];
    expect(drainRate(arrivals, 4, 30_000)).toEqual({ events: 4, durationMs: 2_000, rate: 2, drained: true });
  });

  it("counts whole windows of a rate-limited drain once each: the sustained rate, not the first burst", () => {
    // 90 requests allowed per ten seconds: a burst at the start of each window, 300 handoffs queued.
    const arrivals: number[] = [];
    for (let window = 0; window < 4; window++)
      for (let i = 0; i < 90; i++) arrivals.push(window * 10_000 + i * 10);
    const rate = drainRate(arrivals, 300, 30_000);
    expect(rate).toEqual({ events: 270, durationMs: 30_000, rate: 9, drained: false });
    // First to last over the same arrivals would say 360 / 30.9 s, about 11.7/s.
    expect(360 / ((Math.max(...arrivals) - Math.min(...arrivals)) / 1000)).toBeGreaterThan(11);
  });

  it("is zero without arrivals", () => {
    expect(drainRate([], 10, 1_000)).toEqual({ events: 0, durationMs: 0, rate: 0, drained: false });
  });
});

describe("crmTargets", () => {
  const input = {
    unbatchedRate: 9,
    batchedRate: 500,
    rateLimited: 0,
    openLoop: { offeredRate: 50, valid: true, latencyMs: { p99: 600 } },
  };

  it("meets all three when batching gives 50x, nothing was refused and p99 is within a second", () => {
    expect(crmTargets(input)).toEqual([
      { name: "HubSpot handoffs/s, batched / unbatched", goal: ">= 50", value: 500 / 9, status: "met" },
      { name: "HubSpot 429 answers, drains and open loop", goal: "= 0", value: 0, status: "met" },
      { name: "p99 to HubSpot at 50 handoffs/s, batched (ms)", goal: "<= 1000", value: 600, status: "met" },
    ]);
  });

  it("misses each on its own figure, and calls an open loop that did not reach its rate invalid", () => {
    const targets = crmTargets({
      unbatchedRate: 9,
      batchedRate: 400,
      rateLimited: 3,
      openLoop: { offeredRate: 50, valid: false, latencyMs: { p99: 400 } },
    });
    expect(targets.map((t) => t.status)).toEqual(["not met", "not met", "invalid"]);
    expect(
      crmTargets({ ...input, openLoop: { ...input.openLoop, latencyMs: { p99: 1_001 } } })[2],
    ).toMatchObject({ status: "not met" });
  });

  it("has no ratio when nothing went out unbatched", () => {
    expect(crmTargets({ ...input, unbatchedRate: 0 })[0]).toMatchObject({ status: "invalid" });
  });
});

describe("BENCH_PHASES", () => {
  it("runs every phase by default, the named ones when set, and refuses an unknown name", () => {
    expect(parseBenchOptions({}).phases).toEqual(["pipeline", "crm"]);
    expect(parseBenchOptions({ BENCH_PHASES: "crm" }).phases).toEqual(["crm"]);
    expect(parseBenchOptions({ BENCH_PHASES: " crm , pipeline,crm" }).phases).toEqual(["crm", "pipeline"]);
    expect(() => parseBenchOptions({ BENCH_PHASES: "crn" })).toThrow();
  });
});
