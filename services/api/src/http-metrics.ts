import { Counter, Histogram, type Registry } from "@handoff-sync/telemetry";

export interface HttpMetrics {
  readonly requests: Counter<"method" | "route" | "status">;
  readonly duration: Histogram<"method" | "route">;
}

/** Labelled by route template, never by raw URL, so ids in paths cannot explode cardinality. */
export function createHttpMetrics(registry: Registry): HttpMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "handoff_sync_api_requests_total",
      help: "API requests by method, route template and status",
      labelNames: ["method", "route", "status"],
      registers,
    }),
    duration: new Histogram({
      name: "handoff_sync_api_request_duration_seconds",
      help: "API request duration by method and route template",
      labelNames: ["method", "route"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}
