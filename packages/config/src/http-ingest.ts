import { z } from "zod";
import { int } from "./destinations/base.js";
import { ChatRespondInputSchema, SipHeadersInputSchema } from "./source-inputs.js";

/** A dotted path into a request body (`outcome`, `metadata.close_reason`). */
const BodyPathSchema = z
  .string()
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, "must be a dotted path such as metadata.close_reason");

export const ChatCloseInputSchema = z
  .strictObject({
    failed_when: z
      .strictObject({
        path: BodyPathSchema.default("outcome").describe(
          "Where the chat/close body says how the transfer ended.",
        ),
        values: z
          .array(z.string().min(1))
          .min(1)
          .default(["failed", "abandoned", "timeout", "no_agent"])
          .describe("Values at `path` that make the close a failed transfer."),
      })
      .prefault({})
      .describe("A chat/close whose body has one of these values at `path` ends the handoff as failed."),
    failed_state: z
      .string()
      .min(1)
      .default("handoff_failed")
      .describe("State of a failed or abandoned transfer."),
    completed_state: z
      .string()
      .min(1)
      .default("handoff_completed")
      .describe("State of an accepted transfer."),
    /** How long a conversation's open handoff is remembered for its chat/close. */
    ttl_ms: int(60_000, 30 * 86_400_000).default(7 * 86_400_000),
  })
  .describe("How a chat/close after a chat/respond handoff ends that handoff.");
export type ChatCloseInput = z.infer<typeof ChatCloseInputSchema>;

export const HttpIngestSchema = z
  .strictObject({
    topic: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Where accepted requests are produced, as native handoff events. Omitted: source.topic, which must then have format handoff_event.",
      ),
    max_body_bytes: int(256, 10 * 1_048_576)
      .default(65_536)
      .describe("Larger request bodies are answered 413 before they are read."),
    rate_limit: z
      .strictObject({
        per_second: int(1, 100_000).default(50),
        burst: int(1, 1_000_000).default(200),
        shared: z
          .boolean()
          .default(true)
          .describe(
            "Count in Redis, so the limit holds across every api replica (each process counts alone while Redis does not answer); false: per process, in memory.",
          ),
      })
      .prefault({})
      .describe("Per API key: a token bucket; over it, 429 with Retry-After."),
    produce_timeout_ms: int(100, 120_000)
      .default(5_000)
      .describe("How long a request waits for Kafka's acknowledgement before it is answered 503."),
    retry_after_s: int(1, 3_600).default(5).describe("Retry-After of a 503 while Kafka is unavailable."),
    chat_respond: ChatRespondInputSchema.prefault({}).describe(
      "How a chat/respond answer becomes a handoff event (the same settings as source.chat_respond).",
    ),
    chat_close: ChatCloseInputSchema.prefault({}),
    sip_headers: SipHeadersInputSchema.optional().describe(
      "The deployment's SIP header mapping; without it POST /v1/ingest/sip answers 404.",
    ),
  })
  .describe("HTTP ingestion (POST /v1/ingest/...): requests become native handoff events on Kafka.");
export type HttpIngest = z.infer<typeof HttpIngestSchema>;

/**
 * The topic HTTP ingestion produces to, or why there is none: the edge produces native events, so
 * a source topic read as another format (chat_respond, sip_headers) would reject every one.
 */
export function httpIngestTopic(file: {
  source: { topic: string; format: string };
  http_ingest: { topic?: string | undefined };
}): { topic: string } | { disabled: string } {
  if (file.http_ingest.topic !== undefined) return { topic: file.http_ingest.topic };
  if (file.source.format === "handoff_event") return { topic: file.source.topic };
  return {
    disabled: `source.format is ${file.source.format}: set http_ingest.topic to a topic whose consumer reads handoff_event`,
  };
}
