import { randomUUID } from "node:crypto";
import { createKafkaClient, ensureTopics } from "@handoff-sync/kafka";
import { createLogger, onShutdown } from "@handoff-sync/telemetry";
import { loadProducerEnv } from "./sample-producer-config.js";

// Sample handoffs walking through the seed's states, so the demo shows deliveries arriving.
const env = loadProducerEnv();
const log = createLogger({ level: env.LOG_LEVEL, service: "sample-producer" });
const kafka = createKafkaClient({ brokers: env.KAFKA_BROKERS, clientId: "handoff-sync-demo", log });
await ensureTopics(kafka, [{ topic: env.TOPIC }]);
const producer = kafka.producer();
await producer.connect();

const journeys = [
  ["handoff_initiated", "handoff_completed"],
  ["successfully_identified", "handoff_completed"],
  ["handoff_initiated", "handoff_failed", "handoff_initiated", "handoff_completed"],
  ["customer_refund", "handoff_completed"],
  ["complaint_escalation", "handoff_failed"],
] as const;

// A tag per run keeps each run's handoffs apart from those an earlier run left in Redis.
const run = Date.now().toString(36).slice(-5);
let running = true;
onShutdown(
  async () => {
    running = false;
    await producer.disconnect();
  },
  { log },
);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
for (let n = 1; running && (env.SAMPLE_COUNT === 0 || n <= env.SAMPLE_COUNT); n++) {
  const journey = journeys[(n - 1) % journeys.length] ?? journeys[0];
  const id = randomUUID();
  const sharedId = `acme_${run}_${String(n).padStart(4, "0")}`;
  for (const state of journey) {
    if (!running) break;
    const event = {
      event_id: randomUUID(),
      id,
      shared_id: sharedId,
      state,
      occurred_at: new Date().toISOString(),
      channel: n % 2 === 0 ? "chat" : "voice",
      reason: state === "handoff_failed" ? "transfer_failed" : "billing_question",
      data: {
        customer_id: String(10_000 + n),
        verified: n % 3 !== 0,
        handoff_reason: state,
        entities: { plan: "premium" },
      },
    };
    await producer.send({ topic: env.TOPIC, messages: [{ key: sharedId, value: JSON.stringify(event) }] });
    log.info({ sharedId, state }, "sample event sent");
    await sleep(env.SAMPLE_INTERVAL_MS);
  }
}
await producer.disconnect();
