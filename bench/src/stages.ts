import { summariseLatency, type LatencySummary } from "./stats.js";

/**
 * Where an event's time goes between its `occurred_at` and the end of its delivery, read from its
 * completed delivery job: the consumer stamps `enqueued_at` once the event is applied, BullMQ
 * stamps `timestamp` when the job is added, `processedOn` when a worker takes it and `finishedOn`
 * when it completes (after the CRM answered and the ledger was written). Milliseconds.
 */
export interface StageLatencies {
  /** `occurred_at` to `enqueued_at`: the producer, Kafka, the consumer's fetch, decode and apply. */
  readonly toApplied: LatencySummary;
  /** `enqueued_at` to the job's add: the rest of the group's applies and the bulk enqueue. */
  readonly toEnqueued: LatencySummary;
  /** The add to a worker taking the job: time waiting in the queue. */
  readonly queued: LatencySummary;
  /** Taken to completed: the begin script, the request, the ledger, BullMQ's completion. */
  readonly processing: LatencySummary;
}

/** The parts of a completed job this reads; BullMQ's `Job` has them. */
export interface CompletedJob {
  readonly data: unknown;
  readonly timestamp: number;
  readonly processedOn?: number | undefined;
  readonly finishedOn?: number | undefined;
}

function stampOf(data: unknown, field: "occurred_at" | "enqueued_at"): number {
  const value =
    typeof data === "object" && data !== null ? (data as Record<string, unknown>)[field] : undefined;
  return typeof value === "string" ? Date.parse(value) : Number.NaN;
}

/** Stage latencies of the jobs whose event occurred within [fromMs, toMs]. */
export function stageLatencies(jobs: readonly CompletedJob[], fromMs: number, toMs: number): StageLatencies {
  const toApplied: number[] = [];
  const toEnqueued: number[] = [];
  const queued: number[] = [];
  const processing: number[] = [];
  for (const job of jobs) {
    const occurred = stampOf(job.data, "occurred_at");
    const enqueued = stampOf(job.data, "enqueued_at");
    const { processedOn, finishedOn } = job;
    if (!(occurred >= fromMs && occurred <= toMs)) continue;
    if (Number.isNaN(enqueued) || processedOn === undefined || finishedOn === undefined) continue;
    toApplied.push(enqueued - occurred);
    toEnqueued.push(job.timestamp - enqueued);
    queued.push(processedOn - job.timestamp);
    processing.push(finishedOn - processedOn);
  }
  return {
    toApplied: summariseLatency(toApplied),
    toEnqueued: summariseLatency(toEnqueued),
    queued: summariseLatency(queued),
    processing: summariseLatency(processing),
  };
}
