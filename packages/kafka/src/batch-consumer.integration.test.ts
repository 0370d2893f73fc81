import { createLogger } from "@handoff-sync/telemetry";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { describe, expect, inject, it } from "vitest";
import { createBatchConsumer } from "./batch-consumer.js";

const uniqueName = (label: string): string =>
  `${label}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

async function waitFor(done: () => boolean, { timeoutMs, message }: { timeoutMs: number; message: string }) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// kafkajs 2.2.4 committed offsets after every batch whatever autoCommitInterval said; the patch in
// patches/kafkajs@2.2.4.patch lets the interval decide and commits what was resolved on stop.
describe("the batch consumer's offset commits", () => {
  it("commits on its interval, not per batch, and commits everything resolved when it stops", async () => {
    const kafka = new Kafka({
      clientId: "commit-interval",
      brokers: inject("kafkaBrokers").split(","),
      logLevel: logLevel.ERROR,
    });
    const topic = uniqueName("commit-interval");
    const groupId = uniqueName("commit-interval-group");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();

    let handled = 0;
    let batches = 0;
    const consumer = createBatchConsumer({
      kafka,
      groupId,
      topic,
      log: createLogger({ level: "error", service: "test" }),
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      handleGroup: (records) => {
        handled += records.length;
        batches++;
        return Promise.resolve();
      },
      onFatal: (error) => {
        throw error;
      },
    });
    let commits = 0;
    consumer.consumer.on(consumer.consumer.events.COMMIT_OFFSETS, () => commits++);
    try {
      await consumer.start();
      // Warm-up: the group is joined and the first record handled before counting.
      await producer.send({ topic, messages: [{ value: "warm-up" }] });
      await waitFor(() => handled >= 1, { timeoutMs: 60_000, message: "the warm-up record" });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      commits = 0;
      batches = 0;
      // A trickle: one record at a time, each fetched as a batch of its own, for about a second.
      const trickle = 20;
      for (let i = 0; i < trickle; i++) {
        await producer.send({ topic, messages: [{ value: `r${i}` }] });
        await waitFor(() => handled >= i + 2, { timeoutMs: 10_000, message: `record ${i}` });
      }
      expect(batches).toBeGreaterThanOrEqual(trickle / 2);
      // One commit per batch before the patch; the 1 s interval allows two in this window, three
      // with the slow machine's margin.
      expect(commits).toBeLessThanOrEqual(3);
    } finally {
      await consumer.stop();
    }
    const [end] = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed?.partitions[0]?.offset).toBe(end?.offset);
    expect(end?.offset).toBe("21");
    await producer.disconnect();
    await admin.disconnect();
  });
});
