import type { Logger } from "@handoff-sync/telemetry";
import type { Consumer, Kafka } from "kafkajs";
import { crashLevel } from "./log-level.js";
import { flattenHeaders, type InboundRecord } from "./message.js";
import { handleInGroups } from "./record-window.js";

/**
 * Records of a partition handed to the handler at once: enough that their Redis round trips share
 * a few pipelined writes and one bulk enqueue; more only adds memory and redelivered work after a
 * failure. 200 measured the same throughput and CPU per event as 100, with 10-15 MiB more peak
 * resident size in a burst (docs/performance.md).
 */
export const DEFAULT_RECORDS_IN_FLIGHT = 100;

/**
 * Bytes a fetch may bring per partition and in all. kafkajs defaults to 1 MiB and 10 MiB; at our
 * record sizes (under 1 KiB) 256 KiB per partition is still hundreds of records per fetch, and it
 * bounds what a burst parks in the heap (docs/configuration.md).
 */
export const DEFAULT_FETCH_MAX_BYTES_PER_PARTITION = 256 * 1024;
export const DEFAULT_FETCH_MAX_BYTES = 2 * 1024 * 1024;

export interface BatchConsumerSettings {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topic: string;
  readonly log: Logger;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Records of one partition handed to `handleGroup` at once; offsets are resolved in order after
   * the group. Defaults to 200, measured in docs/performance.md.
   */
  readonly recordsInFlight?: number;
  /** kafkajs `maxBytesPerPartition` and `maxBytes` of a fetch; they bound the records held at once. */
  readonly fetchMaxBytesPerPartition?: number;
  readonly fetchMaxBytes?: number;
  /**
   * Handles a group of one partition's records, in offset order. It must resolve only when every
   * record is durably enqueued or dead-lettered: their offsets are resolved after that. A throw
   * stops the batch so the group is consumed again; that is for infrastructure failures, never for
   * bad input.
   */
  readonly handleGroup: (records: readonly InboundRecord[]) => Promise<void>;
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
    maxBytesPerPartition: settings.fetchMaxBytesPerPartition ?? DEFAULT_FETCH_MAX_BYTES_PER_PARTITION,
    maxBytes: settings.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES,
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
          await handleInGroups(batch.messages, {
            limit: settings.recordsInFlight ?? DEFAULT_RECORDS_IN_FLIGHT,
            shouldStop: () => !payload.isRunning() || payload.isStale(),
            handleGroup: (messages) =>
              settings.handleGroup(
                messages.map((message) => ({
                  topic,
                  partition,
                  offset: message.offset,
                  key: message.key,
                  value: message.value,
                  headers: flattenHeaders(message.headers),
                  timestamp: Number(message.timestamp),
                })),
              ),
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
