import { KafkaEnvSchema, LogLevelSchema, parseEnv } from "@handoff-sync/config";
import { z } from "zod";

export const ProducerEnvSchema = z.object({
  KAFKA_BROKERS: KafkaEnvSchema.shape.KAFKA_BROKERS,
  LOG_LEVEL: LogLevelSchema.default("info"),
  TOPIC: z.string().min(1).default("handoff.events"),
  /** 0 produces until stopped. */
  SAMPLE_COUNT: z.coerce.number().int().min(0).default(0),
  SAMPLE_INTERVAL_MS: z.coerce.number().int().min(0).default(1500),
});
export type ProducerEnv = z.infer<typeof ProducerEnvSchema>;

export function loadProducerEnv(env: Record<string, string | undefined> = process.env): ProducerEnv {
  return parseEnv(ProducerEnvSchema, env);
}
