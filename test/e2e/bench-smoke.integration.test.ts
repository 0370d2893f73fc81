import { describe, expect, inject, it } from "vitest";
import { formatReport, parseBenchOptions, runBench } from "../../bench/src/bench.js";

// Proves `pnpm bench` works end to end with tiny counts; the numbers themselves are not judged here.
// The bench measures one Redis server (INFO commandstats before and after); it has no cluster mode.
describe.skipIf(inject("redisCluster"))("bench smoke run", () => {
  it("measures every baseline and the pipeline, delivering every event, and reports the documented shape", async () => {
    const options = parseBenchOptions({
      BENCH_PHASES: "pipeline",
      BENCH_EVENTS: "200",
      BENCH_RUNS: "1",
      BENCH_RATE: "100",
      BENCH_LOW_RATE: "20",
      BENCH_OPEN_LOOP_SECONDS: "1",
      BENCH_SCALING_EVENTS: "40",
      BENCH_SCALING_LATENCY_MS: "10",
      KAFKA_BROKERS: inject("kafkaBrokers"),
      REDIS_URL: inject("redisUrl"),
    });
    const progress: string[] = [];
    const result = await runBench(options, { progress: (message) => progress.push(message) });
    if (result.baselines === undefined || result.pipeline === undefined || result.ratios === undefined)
      throw new Error("phase pipeline reported nothing");
    expect(result.crm).toBeUndefined();

    expect(Object.keys(result)).toEqual(
      expect.arrayContaining(["machine", "baselines", "pipeline", "ratios", "targets"]),
    );
    for (const baseline of [result.baselines.bullmq, result.baselines.kafkajs, result.baselines.naive]) {
      expect(baseline.events).toBe(200);
      expect(baseline.rate).toBeGreaterThan(0);
    }
    expect(result.pipeline.throughput.events).toBe(200);
    expect(result.pipeline.saturation.latencyMs.samples).toBe(200);
    expect(result.pipeline.openLoop.sent).toBe(100);
    expect(result.pipeline.openLoop.latencyMs.samples).toBe(100);
    expect(result.pipeline.openLoopLow.sent).toBe(20);
    expect(result.pipeline.openLoopLow.latencyMs.samples).toBe(20);
    // Every event of a loop has its completed job, split into stages.
    expect(result.pipeline.openLoop.stages.processing.samples).toBe(100);
    expect(result.pipeline.openLoopLow.stages.queued.samples).toBe(20);
    // Counted on the server: BullMQ's own jobs and the pipeline's events both cost commands.
    expect(result.baselines.bullmqRedis.commandsPer1000).toBeGreaterThan(0);
    expect(result.pipeline.redis.commandsPer1000).toBeGreaterThan(0);
    expect(result.pipeline.redis.byCommand).not.toHaveProperty("info");
    expect(result.pipeline.heapUnderLoad.worker?.usedMiB).toBeGreaterThan(0);
    expect(result.pipeline.scaling?.oneWorker.events).toBe(40);
    expect(result.pipeline.scaling?.twoWorkers.events).toBe(40);
    expect(Object.keys(result.pipeline.peakRssMiB)).toEqual(["consumer", "worker", "worker2"]);
    expect(result.pipeline.cpuSecondsPer1000.total).toBeGreaterThan(0);
    // Each floor is measured alone; the total is their sum.
    const { floors } = result.baselines;
    for (const part of [floors.bullmqAdd, floors.bullmqWorker, floors.httpClient])
      expect(part).toBeGreaterThan(0);
    expect(floors.kafkajsConsume).toBeGreaterThanOrEqual(0);
    expect(floors.total).toBeCloseTo(
      floors.kafkajsConsume + floors.bullmqAdd + floors.bullmqWorker + floors.httpClient,
      9,
    );
    for (const ratio of Object.values(result.ratios)) expect(ratio).toBeGreaterThan(0);
    expect(result.targets.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        "p99 latency at 20 events/s (ms)",
        "CPU s per 1,000 events, consumer + worker",
      ]),
    );
    expect(result.targets.map((t) => t.status).every((s) => ["met", "not met", "invalid"].includes(s))).toBe(
      true,
    );
    expect(result.runs).toHaveLength(1);
    expect(progress.some((line) => line.includes("(d)"))).toBe(true);
  });

  it("phase crm alone: HubSpot unbatched and batched drains and the open loop, every handoff received", async () => {
    const options = parseBenchOptions({
      BENCH_PHASES: "crm",
      BENCH_RUNS: "1",
      BENCH_CRM_EVENTS: "60",
      BENCH_CRM_DRAIN_SECONDS: "10",
      BENCH_CRM_RATE: "20",
      BENCH_CRM_OPEN_LOOP_SECONDS: "1",
      BENCH_CRM_HUBSPOT_LATENCY_MS: "10",
      KAFKA_BROKERS: inject("kafkaBrokers"),
      REDIS_URL: inject("redisUrl"),
    });
    const progress: string[] = [];
    const result = await runBench(options, { progress: (message) => progress.push(message) });

    expect(result.baselines).toBeUndefined();
    expect(result.pipeline).toBeUndefined();
    const crm = result.crm;
    if (crm === undefined) throw new Error("phase crm reported nothing");
    expect(crm.hubspot).toEqual({ tenSecondly: 100, daily: 250_000, latencyMs: 10 });
    // 60 handoffs fit in HubSpot's first ten-second window even one request each.
    expect(crm.unbatched.throughput).toMatchObject({ events: 60, drained: true });
    expect(crm.unbatched.handoffsPerRequest).toBe(1);
    expect(crm.batched.throughput).toMatchObject({ events: 60, drained: true });
    expect(crm.batched.requests).toBeLessThan(60);
    expect(crm.openLoop.sent).toBe(20);
    expect(crm.openLoop.latencyMs.samples).toBe(20);
    expect(crm.openLoop.latencyMs.p50).toBeGreaterThan(0);
    expect(result.targets.map((t) => t.name)).toEqual([
      "HubSpot handoffs/s, batched / unbatched",
      "HubSpot 429 answers, drains and open loop",
      "p99 to HubSpot at 20 handoffs/s, batched (ms)",
    ]);
    expect(result.runs).toHaveLength(1);
    expect(formatReport(result)).toContain("batched / unbatched");
    expect(progress.some((line) => line.includes("(crm)"))).toBe(true);
  });
});
