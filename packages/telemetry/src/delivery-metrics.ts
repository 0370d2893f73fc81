import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The worker's metrics; names are the contract docs/runbook.md and the alert rules rely on. */
export interface DeliveryMetrics {
  readonly attempts: Counter<"destination" | "outcome">;
  readonly attemptDuration: Histogram<"destination">;
  readonly endToEnd: Histogram<"destination">;
  /** Deliveries per batched CRM request (batched destinations only). */
  readonly batchSize: Histogram<"destination">;
  /** API requests used and remaining as the CRM last reported them, per `window` ("window" or "day"). */
  readonly apiRequestsUsed: Gauge<"destination" | "window">;
  readonly apiRequestsRemaining: Gauge<"destination" | "window">;
  readonly parked: Gauge<"destination">;
  readonly queueDepth: Gauge<"destination" | "state">;
  readonly oldestJobAge: Gauge<"destination">;
  readonly deadLetters: Gauge<"destination">;
  readonly deadLettersPruned: Counter<"destination">;
  readonly stalledSwept: Counter<"destination">;
  readonly redisUsedMemory: Gauge;
  readonly redisMaxMemory: Gauge;
  readonly redisPolicy: Gauge<"policy">;
  readonly handoffsStored: Gauge;
}

export function createDeliveryMetrics(registry: Registry): DeliveryMetrics {
  const registers = [registry];
  return {
    attempts: new Counter({
      name: "handoff_sync_delivery_attempts_total",
      help: "Delivery attempts by destination and outcome (delivered, skipped, retry, rate_limited, parked, dead_lettered, returned, superseded)",
      labelNames: ["destination", "outcome"],
      registers,
    }),
    attemptDuration: new Histogram({
      name: "handoff_sync_delivery_attempt_duration_seconds",
      help: "Time spent in one delivery attempt, CRM round trips included",
      labelNames: ["destination"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    endToEnd: new Histogram({
      name: "handoff_sync_end_to_end_latency_seconds",
      help: "From the event's occurred_at to the CRM's acknowledgement of the delivery",
      labelNames: ["destination"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    batchSize: new Histogram({
      name: "handoff_sync_delivery_batch_size",
      help: "Deliveries sent in one batched CRM request",
      labelNames: ["destination"],
      buckets: [1, 2, 5, 10, 25, 50, 100, 200],
      registers,
    }),
    apiRequestsUsed: new Gauge({
      name: "handoff_sync_api_requests_used",
      help: "API requests used in the CRM's current window or day, as its last answer reported",
      labelNames: ["destination", "window"],
      registers,
    }),
    apiRequestsRemaining: new Gauge({
      name: "handoff_sync_api_requests_remaining",
      help: "API requests left in the CRM's current window or day, as its last answer reported",
      labelNames: ["destination", "window"],
      registers,
    }),
    parked: new Gauge({
      name: "handoff_sync_destination_parked",
      help: "1 while a destination is parked",
      labelNames: ["destination"],
      registers,
    }),
    queueDepth: new Gauge({
      name: "handoff_sync_queue_jobs",
      help: "Delivery jobs by destination and state",
      labelNames: ["destination", "state"],
      registers,
    }),
    oldestJobAge: new Gauge({
      name: "handoff_sync_queue_oldest_job_age_seconds",
      help: "Age of the oldest waiting delivery job",
      labelNames: ["destination"],
      registers,
    }),
    deadLetters: new Gauge({
      name: "handoff_sync_dead_letters",
      help: "Entries in the dead-letter queue",
      labelNames: ["destination"],
      registers,
    }),
    deadLettersPruned: new Counter({
      name: "handoff_sync_dead_letters_pruned_total",
      help: "Dead letters removed by the configured retention",
      labelNames: ["destination"],
      registers,
    }),
    stalledSwept: new Counter({
      name: "handoff_sync_stalled_jobs_swept_total",
      help: "Jobs BullMQ failed for stalling, moved to the dead-letter queue",
      labelNames: ["destination"],
      registers,
    }),
    redisUsedMemory: new Gauge({
      name: "handoff_sync_redis_memory_used_bytes",
      help: "Redis used_memory, as INFO memory reports it (on a cluster: the master closest to its maxmemory)",
      registers,
    }),
    redisMaxMemory: new Gauge({
      name: "handoff_sync_redis_memory_max_bytes",
      help: "Redis maxmemory (0 when unlimited; on a cluster: of the master closest to it)",
      registers,
    }),
    redisPolicy: new Gauge({
      name: "handoff_sync_redis_maxmemory_policy_info",
      help: "1, labelled with Redis maxmemory-policy (anything but noeviction can drop queued jobs)",
      labelNames: ["policy"],
      registers,
    }),
    handoffsStored: new Gauge({
      name: "handoff_sync_handoffs_stored",
      help: "Handoffs in the store's index (bounded by HANDOFF_RETENTION_MS)",
      registers,
    }),
  };
}
