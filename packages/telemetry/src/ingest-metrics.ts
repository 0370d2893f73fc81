import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The consumer's metrics; names are the contract docs/runbook.md and the alert rules rely on. */
export interface IngestMetrics {
  readonly consumed: Counter<"result">;
  readonly rejected: Counter<"reason">;
  readonly aliasConflicts: Counter<"kind">;
  readonly enqueueLatency: Histogram;
  readonly lag: Gauge<"topic" | "partition">;
  readonly position: Gauge<"topic" | "partition">;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  const registers = [registry];
  return {
    consumed: new Counter({
      name: "handoff_sync_events_consumed_total",
      help: "Handoff events consumed, by result (applied, stale, duplicate, rejected)",
      labelNames: ["result"],
      registers,
    }),
    rejected: new Counter({
      name: "handoff_sync_events_rejected_total",
      help: "Events sent to the rejected-events topic, by reason",
      labelNames: ["reason"],
      registers,
    }),
    aliasConflicts: new Counter({
      name: "handoff_sync_alias_conflicts_total",
      help: "Events whose id or shared_id was already aliased to another handoff (left alone; see docs/decisions/0003-key-aliasing.md), by alias kind",
      labelNames: ["kind"],
      registers,
    }),
    enqueueLatency: new Histogram({
      name: "handoff_sync_enqueue_latency_seconds",
      help: "From reading a record to its delivery jobs being enqueued (or its rejection published)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    lag: new Gauge({
      name: "handoff_sync_consumer_lag",
      help: "Records between the consumer's position and the partition's high watermark",
      labelNames: ["topic", "partition"],
      registers,
    }),
    position: new Gauge({
      name: "handoff_sync_consumer_position",
      help: "The offset after the last record handled (enqueued or rejected); commits catch up to it",
      labelNames: ["topic", "partition"],
      registers,
    }),
  };
}
