import type { BenchResult } from "./bench.js";

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const fixed = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : "-");

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The human-readable report `pnpm bench` prints: the same numbers as the JSON. */
export function formatReport(result: BenchResult): string {
  const { machine, settings, baselines, pipeline, ratios } = result;
  const lat = (l: { p50: number; p95: number; p99: number }): string[] => [
    `p50 ${int(l.p50)} ms`,
    `p95 ${int(l.p95)} ms`,
    `p99 ${int(l.p99)} ms`,
  ];
  const lines: string[] = [];
  lines.push(
    `handoff-sync bench: ${settings.events} events per measurement, median of ${settings.runs} run(s); ${settings.partitions} partitions, ` +
      `destination concurrency ${settings.concurrency}, addBulk ${settings.batch}, CRM latency ${settings.crmLatencyMs} ms`,
  );
  lines.push(
    `machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, Redis ${machine.redis}, load average ${fixed(machine.loadAverage.start)} at start, ${fixed(machine.loadAverage.end)} at end`,
  );
  lines.push("");
  lines.push(
    table([
      ["throughput", "events/s", "pipeline ratio"],
      [
        "(a) raw BullMQ addBulk + no-op worker",
        int(baselines.bullmq.rate),
        `d/a ${fixed(ratios.pipelineToBullmq)}`,
      ],
      ["(b) raw kafkajs eachBatch", int(baselines.kafkajs.rate), `d/b ${fixed(ratios.pipelineToKafkajs)}`],
      ["(c) naive kafkajs -> HTTP loop", int(baselines.naive.rate), `d/c ${fixed(ratios.pipelineToNaive)}`],
      ["(d) pipeline, draining a backlog", int(pipeline.throughput.rate), ""],
      ["(d) pipeline, burst into running services", int(pipeline.saturation.throughput.rate), ""],
    ]),
  );
  lines.push("");
  const openRow = (open: typeof pipeline.openLoop): string[] => [
    `open loop ${int(open.offeredRate)}/s offered, ${int(open.achievedRate)}/s sent${open.valid ? "" : " INVALID"}`,
    ...lat(open.latencyMs).map((s) => s.split(" ").slice(1).join(" ")),
  ];
  lines.push(
    table([
      ["pipeline latency (occurred_at -> CRM)", "p50", "p95", "p99"],
      openRow(pipeline.openLoopLow),
      openRow(pipeline.openLoop),
      [
        `saturation burst of ${settings.events}`,
        ...lat(pipeline.saturation.latencyMs).map((s) => s.split(" ").slice(1).join(" ")),
      ],
    ]),
  );
  lines.push("");
  const rssRows = Object.entries(pipeline.peakRssMiB).map(([name, mib]) => [
    `peak RSS ${name} (at start ${fixed(pipeline.startRssMiB[name] ?? Number.NaN, 0)})`,
    `${fixed(mib, 1)} MiB`,
  ]);
  lines.push(
    table([
      ["resources", ""],
      [`CPU s / 1,000 events consumer`, fixed(pipeline.cpuSecondsPer1000.consumer, 3)],
      [`CPU s / 1,000 events worker`, fixed(pipeline.cpuSecondsPer1000.worker, 3)],
      [`CPU s / 1,000 events total`, fixed(pipeline.cpuSecondsPer1000.total, 3)],
      [`Redis CPU s / 1,000 events pipeline`, fixed(pipeline.redis.cpuSecondsPer1000, 3)],
      [`Redis CPU s / 1,000 jobs raw BullMQ`, fixed(baselines.bullmqRedis.cpuSecondsPer1000, 3)],
      [`Redis commands / event pipeline`, fixed(pipeline.redis.commandsPer1000 / 1000, 1)],
      [`Redis commands / job raw BullMQ`, fixed(baselines.bullmqRedis.commandsPer1000 / 1000, 1)],
      [
        `  pipeline by command`,
        Object.entries(pipeline.redis.byCommand)
          .slice(0, 8)
          .map(([name, per1000]) => `${name} ${fixed(per1000 / 1000, 1)}`)
          .join(", "),
      ],
      ...rssRows,
      ...Object.entries(pipeline.heapUnderLoad).map(([name, heap]) => [
        `V8 heap ${name} during the burst, used / reserved (peak)`,
        `${fixed(heap.usedMiB, 1)} / ${fixed(heap.totalMiB, 1)} MiB`,
      ]),
      ...(pipeline.scaling !== undefined
        ? [
            [
              `one worker at ${pipeline.scaling.crmLatencyMs} ms CRM latency`,
              `${int(pipeline.scaling.oneWorker.rate)}/s`,
            ],
            [
              `two workers at ${pipeline.scaling.crmLatencyMs} ms CRM latency`,
              `${int(pipeline.scaling.twoWorkers.rate)}/s`,
            ],
          ]
        : []),
    ]),
  );
  lines.push("");
  lines.push(
    table([
      ["target", "goal", "measured", ""],
      ...result.targets.map((t) => [t.name, t.goal, fixed(t.value), t.status]),
    ]),
  );
  return lines.join("\n");
}
