import type { Logger } from "@handoff-sync/telemetry";
import {
  Kafka,
  logLevel,
  Partitioners,
  type KafkaConfig,
  type LogEntry,
  type Producer,
  type ProducerConfig,
} from "kafkajs";
import { bridgedLevel, type BridgedLevel } from "./log-level.js";

export interface KafkaClientSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly log: Logger;
  readonly ssl?: KafkaConfig["ssl"];
  readonly sasl?: KafkaConfig["sasl"];
}

const LEVELS: Record<number, BridgedLevel> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/**
 * Producers name their partitioner, so kafkajs does not warn on every start that its default
 * changed in 2.0. The default one is murmur2 on the key, as the Java client's: a handoff keyed by
 * `shared_id ?? id` lands on the same partition whichever client produced it.
 */
class PartitionedKafka extends Kafka {
  override producer(config: ProducerConfig = {}): Producer {
    return super.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config });
  }
}

/** The only place kafkajs is configured, so another client could replace it behind this module. */
export function createKafkaClient(settings: KafkaClientSettings): Kafka {
  const log = settings.log.child({ component: "kafkajs" });
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }: LogEntry) => {
        const { message, ...fields } = entry;
        log[bridgedLevel(LEVELS[level] ?? "info", { namespace, message, error: fields.error })](
          fields,
          message,
        );
      },
  };
  if (settings.ssl !== undefined) config.ssl = settings.ssl;
  if (settings.sasl !== undefined) config.sasl = settings.sasl;
  return new PartitionedKafka(config);
}
