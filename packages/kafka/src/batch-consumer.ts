import type { Logger } from "@handoff-sync/telemetry";
import type { Consumer, Kafka } from "kafkajs";
import { crashLevel } from "./log-level.js";
import { flattenHeaders, type InboundRecord } from "./message.js";
import { handleInWindow } from "./record-window.js";

/**
 * Enough records in flight per partition to hide Redis round trips behind each other; more only
 * adds memory and redelivered work after a failure (docs/performance.md).
 */
export const DEFAULT_RECORDS_IN_FLIGHT = 32;

export interface BatchConsumerSettings {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topic: string;
  readonly log: Logger;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Records of one partition handled at once (records with the same key still one by one);
   * offsets are resolved in order regardless. Defaults to 32, measured in docs/performance.md.
   */
  readonly recordsInFlight?: number;
  /**
   * Handles one record. It must resolve only when the record is durably enqueued or
   * dead-lettered: its offset is resolved after that, once every earlier record's was. A throw stops the batch so the record
   * is consumed again; that is for infrastructure failures, never for bad input.
   */
  readonly handle: (record: InboundRecord) => Promise<void>;
  /**
   * After each group of records: how far behind the partition's high watermark the consumer is, and
   * its position (the offset after the last resolved record, which a commit will store).
   */
  readonly onProgress?: (
    topic: string,
    partition: number,
    progress: { lag: number; position: number },
  ) => void;
  /** Called when kafkajs gives up and will not restart: the process should exit non-zero. */
  readonly onFatal: (error: Error) => void;
}

export interface BatchConsumer {
  readonly consumer: Consumer;
  start(): Promise<void>;
  /** Stops fetching, lets the records in flight finish, commits what was resolved. */
  stop(): Promise<void>;
  isConnected(): boolean;
}

export function createBatchConsumer(settings: BatchConsumerSettings): BatchConsumer {
  const consumer = settings.kafka.consumer({
    groupId: settings.groupId,
    sessionTimeout: settings.sessionTimeoutMs,
    rebalanceTimeout: Math.max(settings.sessionTimeoutMs * 2, 20_000),
    heartbeatInterval: settings.heartbeatIntervalMs,
    allowAutoTopicCreation: false,
  });
  let connected = false;
  consumer.on(consumer.events.CONNECT, () => {
    connected = true;
  });
  consumer.on(consumer.events.DISCONNECT, () => {
    connected = false;
  });
  consumer.on(consumer.events.CRASH, (event) => {
    const { error, restart } = event.payload;
    settings.log[crashLevel(error, restart)]({ err: error, restart }, "consumer crashed");
    if (!restart) settings.onFatal(error);
  });

  return {
    consumer,
    isConnected: () => connected,
    async start() {
      await consumer.connect();
      await consumer.subscribe({ topic: settings.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: true,
        autoCommitInterval: 1000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: settings.partitionsConsumedConcurrently ?? 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const { topic, partition } = batch;
          const highWatermark = Number(batch.highWatermark);
          await handleInWindow(batch.messages, {
            limit: settings.recordsInFlight ?? DEFAULT_RECORDS_IN_FLIGHT,
            shouldStop: () => !payload.isRunning() || payload.isStale(),
            handle: (message) =>
              settings.handle({
                topic,
                partition,
                offset: message.offset,
                key: message.key,
                value: message.value,
                headers: flattenHeaders(message.headers),
                timestamp: Number(message.timestamp),
              }),
            resolve: (message) => payload.resolveOffset(message.offset),
            afterGroup: async (last) => {
              settings.onProgress?.(topic, partition, {
                lag: Math.max(0, highWatermark - Number(last.offset) - 1),
                position: Number(last.offset) + 1,
              });
              await payload.heartbeat();
            },
          });
          await payload.commitOffsetsIfNecessary();
        },
      });
    },
    async stop() {
      await consumer.stop();
      await consumer.disconnect();
    },
  };
}
