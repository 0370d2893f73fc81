import { Counter, type Registry } from "prom-client";

/** The api's HTTP ingestion metrics; names are the contract the dashboard and alert rules rely on. */
export interface HttpIngestMetrics {
  readonly requests: Counter<"endpoint" | "result">;
}

export function createHttpIngestMetrics(registry: Registry): HttpIngestMetrics {
  return {
    requests: new Counter({
      name: "handoff_sync_http_ingest_requests_total",
      help: "HTTP ingestion requests by endpoint (events, chat_respond, chat_close, sip) and result (accepted, skipped, rejected, unavailable, rate_limited)",
      labelNames: ["endpoint", "result"],
      registers: [registry],
    }),
  };
}
