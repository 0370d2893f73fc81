import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The consumer's metrics; names are the contract docs/runbook.md and the alert rules rely on. */
export interface IngestMetrics {
  readonly consumed: Counter<"result">;
  readonly rejected: Counter<"reason">;
  readonly aliasConflicts: Counter<"kind">;
  readonly enqueueLatency: Histogram;
  readonly lag: Gauge<"topic" | "partition">;
  readonly position: Gauge<"topic" | "partition">;
  readonly transitions: Counter<"state" | "stage">;
  readonly anomalies: Counter<"anomaly">;
  readonly initiatedToCompleted: Histogram;
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
    // The seed's "monitor handoff failures": states come from the catalogue, so the labels are bounded.
    transitions: new Counter({
      name: "handoff_sync_handoff_transitions_total",
      help: "Handoffs moved into a state (events applied as the latest; stale and duplicate events excluded), by state and lifecycle stage",
      labelNames: ["state", "stage"],
      registers,
    }),
    anomalies: new Counter({
      name: "handoff_sync_handoff_anomalies_total",
      help: "Events that break the seed's state diagram, by anomaly: first_not_initiated, reopened (a completed handoff initiated again), illegal_transition",
      labelNames: ["anomaly"],
      registers,
    }),
    initiatedToCompleted: new Histogram({
      name: "handoff_sync_handoff_initiated_to_completed_seconds",
      help: "From a handoff's handoff_initiated to the handoff_completed that ends it, by occurred_at",
      buckets: [1, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200],
      registers,
    }),
  };
}
