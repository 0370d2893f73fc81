import { describe, expect, inject, it } from "vitest";
import { parseBenchOptions, runBench } from "../../bench/src/bench.js";

// Proves `pnpm bench` works end to end with tiny counts; the numbers themselves are not judged here.
// The bench measures one Redis server (INFO commandstats before and after); it has no cluster mode.
describe.skipIf(inject("redisCluster"))("bench smoke run", () => {
  it("measures every baseline and the pipeline, delivering every event, and reports the documented shape", async () => {
    const options = parseBenchOptions({
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
    // Counted on the server: BullMQ's own jobs and the pipeline's events both cost commands.
    expect(result.baselines.bullmqRedis.commandsPer1000).toBeGreaterThan(0);
    expect(result.pipeline.redis.commandsPer1000).toBeGreaterThan(0);
    expect(result.pipeline.redis.byCommand).not.toHaveProperty("info");
    expect(result.pipeline.heapUnderLoad.worker?.usedMiB).toBeGreaterThan(0);
    expect(result.pipeline.scaling?.oneWorker.events).toBe(40);
    expect(result.pipeline.scaling?.twoWorkers.events).toBe(40);
    expect(Object.keys(result.pipeline.peakRssMiB)).toEqual(["consumer", "worker", "worker2"]);
    expect(result.pipeline.cpuSecondsPer1000.total).toBeGreaterThan(0);
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
});
