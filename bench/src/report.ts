import type { BenchResult } from "./bench.js";
import type { CrmDrain, CrmRun } from "./crm-bench.js";

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

/** Phase `crm`: the two drains, their ratio, and the batched open loop. */
function crmSection(crm: CrmRun, settings: BenchResult["settings"]): string[] {
  const limits = `${int(crm.hubspot.tenSecondly)} requests / 10 s, ${int(crm.hubspot.daily)} / day`;
  const drainRow = (label: string, drain: CrmDrain): string[] => [
    drain.throughput.drained
      ? `${label}, ${int(drain.throughput.events)} handoffs`
      : `${label}, first ${int(drain.throughput.durationMs / 1000)} s of ${int(settings.crmEvents)}`,
    fixed(drain.throughput.rate, 1),
    int(drain.requests),
    int(drain.rateLimited),
    fixed(drain.handoffsPerRequest, 1),
  ];
  const open = crm.openLoop;
  return [
    table([
      [
        `HubSpot fake (${limits}, ${int(crm.hubspot.latencyMs)} ms), budget from its headers`,
        "handoffs/s",
        "requests",
        "429s",
        "per request",
      ],
      drainRow("unbatched drain", crm.unbatched),
      drainRow("batched drain (max_size 100)", crm.batched),
      // From the (median) rates above, as the target row is.
      [
        "batched / unbatched",
        `${fixed(crm.batched.throughput.rate / crm.unbatched.throughput.rate, 1)}x`,
        "",
        "",
        "",
      ],
    ]),
    "",
    table([
      ["HubSpot latency, batched (occurred_at -> receipt)", "p50", "p95", "p99", "requests", "429s"],
      [
        `open loop ${int(open.offeredRate)}/s offered, ${int(open.achievedRate)}/s sent${open.valid ? "" : " INVALID"}`,
        `${int(open.latencyMs.p50)} ms`,
        `${int(open.latencyMs.p95)} ms`,
        `${int(open.latencyMs.p99)} ms`,
        int(open.requests),
        int(open.rateLimited),
      ],
    ]),
  ];
}

/** The human-readable report `pnpm bench` prints: the same numbers as the JSON. */
export function formatReport(result: BenchResult): string {
  const { machine, settings, baselines, pipeline, ratios, crm } = result;
  const lines: string[] = [];
  lines.push(
    baselines !== undefined && pipeline !== undefined && ratios !== undefined
      ? `handoff-sync bench: ${settings.events} events per measurement, median of ${settings.runs} run(s); ${settings.partitions} partitions, ` +
          `destination concurrency ${settings.concurrency}, addBulk ${settings.batch}, CRM latency ${settings.crmLatencyMs} ms`
      : `handoff-sync bench: phase(s) ${settings.phases.join(", ")}, median of ${settings.runs} run(s); ${settings.partitions} partitions, destination concurrency ${settings.concurrency}`,
  );
  lines.push(
    `machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, Redis ${machine.redis}, load average ${fixed(machine.loadAverage.start)} at start, ${fixed(machine.loadAverage.end)} at end`,
  );
  lines.push("");
  if (baselines !== undefined && pipeline !== undefined && ratios !== undefined)
    lines.push(...pipelineSection(result, baselines, pipeline, ratios), "");
  if (crm !== undefined) lines.push(...crmSection(crm, settings), "");
  lines.push(
    table([
      ["target", "goal", "measured", ""],
      ...result.targets.map((t) => [t.name, t.goal, fixed(t.value), t.status]),
    ]),
  );
  return lines.join("\n");
}

/** Phase `pipeline`: (a) to (d), latency and resources. */
function pipelineSection(
  result: BenchResult,
  baselines: NonNullable<BenchResult["baselines"]>,
  pipeline: NonNullable<BenchResult["pipeline"]>,
  ratios: NonNullable<BenchResult["ratios"]>,
): string[] {
  const { settings } = result;
  const lat = (l: { p50: number; p95: number; p99: number }): string[] => [
    `p50 ${int(l.p50)} ms`,
    `p95 ${int(l.p95)} ms`,
    `p99 ${int(l.p99)} ms`,
  ];
  const lines: string[] = [];
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
  const stageRows = (open: typeof pipeline.openLoop): string[][] => {
    const label = `${int(open.offeredRate)}/s`;
    const rows: [string, typeof open.latencyMs][] = [
      [`${label}: occurred_at -> applied (Kafka, consumer)`, open.stages.toApplied],
      [`${label}: applied -> job added`, open.stages.toEnqueued],
      [`${label}: waiting in the queue`, open.stages.queued],
      [`${label}: taken -> completed (worker, CRM)`, open.stages.processing],
    ];
    return rows.map(([name, summary]) => [name, ...lat(summary).map((s) => s.split(" ").slice(1).join(" "))]);
  };
  lines.push(
    table([
      ["where the open loops' time went (completed jobs)", "p50", "p95", "p99"],
      ...stageRows(pipeline.openLoopLow),
      ...stageRows(pipeline.openLoop),
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
      [
        `CPU s / 1,000 jobs raw BullMQ (add + no-op worker, one process)`,
        fixed(baselines.bullmq.cpuSecondsPer1000 ?? Number.NaN, 3),
      ],
      [
        `CPU s / 1,000 events naive loop (with the CRM fake in its process)`,
        fixed(baselines.naive.cpuSecondsPer1000 ?? Number.NaN, 3),
      ],
      [`floor: kafkajs eachBatch alone`, fixed(baselines.floors.kafkajsConsume, 3)],
      [`floor: BullMQ adds alone (enqueueBulk, pipeline job options)`, fixed(baselines.floors.bullmqAdd, 3)],
      [
        `floor: no-op BullMQ worker alone (own process, worker options)`,
        fixed(baselines.floors.bullmqWorker, 3),
      ],
      [`floor: HTTP requests alone (own process, keep-alive pool)`, fixed(baselines.floors.httpClient, 3)],
      [`floor: consumer + worker, a job and a request per event`, fixed(baselines.floors.total, 3)],
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
  return lines;
}
