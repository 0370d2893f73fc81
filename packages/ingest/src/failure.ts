import { HandoffSyncError, UnprocessableEventError } from "@handoff-sync/schema";

/**
 * Who caused a failure while one record was being ingested.
 * - `record`: the record itself; the same bytes fail the same way every time, so it is rejected.
 * - `infrastructure`: Redis, Kafka or contention; the record is fine and is consumed again later,
 *   its offset not committed.
 * - `unknown`: neither is evident (a bug, an unexpected error); the ingest decides by asking Redis
 *   whether it is healthy and trying the record once more (`createIngest`).
 */
export type FailureOrigin = "record" | "infrastructure" | "unknown";

// Node's socket errors and the messages ioredis and BullMQ use for a connection that is not there.
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
]);
const CONNECTION_MESSAGES = [
  "Connection is closed",
  "Stream isn't writeable",
  "connection ended",
  "Reached the max retries per request limit",
];
// ioredis' reply errors, its retry limit, and kafkajs' own classes (KafkaJSNumberOfRetriesExceeded, ...).
const INFRASTRUCTURE_NAMES = new Set(["ReplyError", "MaxRetriesPerRequestError", "AbortError"]);

export function failureOrigin(error: unknown): FailureOrigin {
  if (error instanceof UnprocessableEventError) return "record";
  if (error instanceof HandoffSyncError) return error.retryable ? "infrastructure" : "record";
  if (!(error instanceof Error)) return "unknown";
  if (
    error.name === "StoreConflictError" ||
    INFRASTRUCTURE_NAMES.has(error.name) ||
    error.name.startsWith("KafkaJS")
  )
    return "infrastructure";
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return "infrastructure";
  if (CONNECTION_MESSAGES.some((text) => error.message.includes(text))) return "infrastructure";
  return "unknown";
}

/** The error as the rejection header and the log show it: its class and message, one line. */
export function describeFailure(error: unknown): string {
  if (error instanceof UnprocessableEventError) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Two failures of one record are the same when their class and message are. */
export function sameFailure(a: unknown, b: unknown): boolean {
  return describeFailure(a) === describeFailure(b);
}
