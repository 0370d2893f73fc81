import type { Producer } from "kafkajs";
import type { InboundRecord } from "./message.js";

export const REJECTION_HEADERS = {
  reason: "handoff-sync-reject-reason",
  error: "handoff-sync-reject-error",
  topic: "handoff-sync-source-topic",
  partition: "handoff-sync-source-partition",
  offset: "handoff-sync-source-offset",
  timestamp: "handoff-sync-source-timestamp",
  rejectedAt: "handoff-sync-rejected-at",
} as const;

export interface Rejection {
  readonly reason: string;
  readonly error: string;
}

export interface RejectedPublisher {
  reject(record: InboundRecord, rejection: Rejection): Promise<void>;
}

const MAX_ERROR_HEADER_BYTES = 4096;

/**
 * Sends a rejected record's original bytes and headers to the rejected-events topic, adding
 * headers that say why and where it came from. Resolves only when the broker acknowledged it.
 */
export function createRejectedPublisher(producer: Producer, topic: string): RejectedPublisher {
  return {
    async reject(record, rejection) {
      const error = Buffer.from(rejection.error).subarray(0, MAX_ERROR_HEADER_BYTES).toString();
      await producer.send({
        topic,
        acks: -1,
        messages: [
          {
            key: record.key,
            value: record.value,
            headers: {
              ...record.headers,
              [REJECTION_HEADERS.reason]: rejection.reason,
              [REJECTION_HEADERS.error]: error,
              [REJECTION_HEADERS.topic]: record.topic,
              [REJECTION_HEADERS.partition]: String(record.partition),
              [REJECTION_HEADERS.offset]: record.offset,
              [REJECTION_HEADERS.timestamp]: String(record.timestamp),
              [REJECTION_HEADERS.rejectedAt]: new Date().toISOString(),
            },
          },
        ],
      });
    },
  };
}
