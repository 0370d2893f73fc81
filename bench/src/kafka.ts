import { Kafka, logLevel, type Producer } from "kafkajs";
import type { EventSource } from "./events.js";

export function benchKafka(brokers: string, clientId: string): Kafka {
  // A busy broker can take longer than kafkajs' default retries to elect a new topic's leaders.
  return new Kafka({
    clientId,
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, maxRetryTime: 30_000 },
  });
}

export async function createTopics(
  kafka: Kafka,
  topics: readonly string[],
  partitions: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: partitions })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [...topics] });
  } catch {
    // Leftover bench topics only cost disk on a local broker; a failed clean-up is no result.
  } finally {
    await admin.disconnect();
  }
}

const SEND_CHUNK = 500;

/** Sends `count` events as fast as the producer takes them. */
export async function produceBurst(
  producer: Producer,
  topic: string,
  source: EventSource,
  count: number,
): Promise<void> {
  for (let sent = 0; sent < count; sent += SEND_CHUNK) {
    const messages = Array.from({ length: Math.min(SEND_CHUNK, count - sent) }, () => source.next());
    await producer.send({ topic, messages });
  }
}

export interface OpenLoopResult {
  readonly offered: number;
  readonly sent: number;
  readonly durationMs: number;
  /** Events acknowledged per second over the phase. */
  readonly achievedRate: number;
}

const TICK_MS = 5;

/**
 * An open-loop producer: sends at `rate` events per second whatever the pipeline does, every
 * event stamped at the moment it is built. Sends are not awaited before the next tick, so a slow
 * broker shows up as a lower achieved rate instead of a slower offered one.
 */
export async function produceOpenLoop(
  producer: Producer,
  topic: string,
  source: EventSource,
  rate: number,
  seconds: number,
): Promise<OpenLoopResult> {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let scheduled = 0;
  let acked = 0;
  let lastAck = started;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  while (scheduled < total && failure === undefined) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    if (due > scheduled) {
      const messages = Array.from({ length: due - scheduled }, () => source.next());
      scheduled = due;
      const sending: Promise<void> = producer
        .send({ topic, messages })
        .then(() => {
          acked += messages.length;
          lastAck = performance.now();
        })
        .catch((error: unknown) => {
          failure = error;
        })
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    }
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  await Promise.all(inFlight);
  if (failure instanceof Error) throw failure;
  if (failure !== undefined) throw new Error("the open-loop producer failed", { cause: failure });
  const durationMs = Math.max(lastAck - started, seconds * 1000);
  return { offered: rate, sent: acked, durationMs, achievedRate: acked / (durationMs / 1000) };
}
