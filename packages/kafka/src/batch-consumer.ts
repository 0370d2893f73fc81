import type { Logger } from "@handoff-sync/telemetry";
import type { Consumer, Kafka } from "kafkajs";
import { flattenHeaders, type InboundRecord } from "./message.js";

export interface BatchConsumerSettings {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topic: string;
  readonly log: Logger;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Handles one record. It must resolve only when the record is durably enqueued or
   * dead-lettered: its offset is resolved right after. A throw stops the batch so the record
   * is consumed again; that is for infrastructure failures, never for bad input.
   */
  readonly handle: (record: InboundRecord) => Promise<void>;
  /** Reports how far behind the partition's high watermark the consumer is after each record. */
  readonly onLag?: (topic: string, partition: number, lag: number) => void;
  /** Called when kafkajs gives up and will not restart: the process should exit non-zero. */
  readonly onFatal: (error: Error) => void;
}

export interface BatchConsumer {
  readonly consumer: Consumer;
  start(): Promise<void>;
  /** Stops fetching, lets the current record finish, commits what was resolved. */
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
    settings.log.error({ err: error, restart }, "consumer crashed");
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
          for (const message of batch.messages) {
            if (!payload.isRunning() || payload.isStale()) break;
            await settings.handle({
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
              key: message.key,
              value: message.value,
              headers: flattenHeaders(message.headers),
              timestamp: Number(message.timestamp),
            });
            payload.resolveOffset(message.offset);
            settings.onLag?.(batch.topic, batch.partition, Math.max(0, Number(batch.highWatermark) - Number(message.offset) - 1));
            await payload.heartbeat();
          }
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
