import { Kafka, logLevel, Partitioners } from "kafkajs";
import { describe, expect, inject, it } from "vitest";
import { uniqueName } from "./names.js";
import { waitFor } from "./wait.js";

// Proves that kafkajs 2.2.4 works against the broker version the project runs
// (docs/local-infra.md records the versions this has passed against).
describe("kafkajs compatibility with the broker", () => {
  it("creates a topic, produces, consumes in a group, commits and fetches offsets", async () => {
    const kafka = new Kafka({
      clientId: "compat",
      brokers: inject("kafkaBrokers").split(","),
      logLevel: logLevel.ERROR,
    });
    const topic = uniqueName("compat");
    const groupId = uniqueName("compat-group");
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })).toBe(
      true,
    );

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const messages = Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 3}`, value: `v${i}` }));
    await producer.send({ topic, messages });

    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    const next: { topic: string; partition: number; offset: string }[] = [];
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
        seen.push(String(message.value));
        next.push({ topic, partition, offset: String(Number(message.offset) + 1) });
        return Promise.resolve();
      },
    });
    await waitFor(() => seen.length >= messages.length, { timeoutMs: 60_000, message: "messages consumed" });
    await consumer.commitOffsets(next);
    await consumer.stop();
    await consumer.disconnect();

    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    for (const end of ends) {
      const offset = committed?.partitions.find((p) => p.partition === end.partition)?.offset;
      expect(end.offset === "0" ? "0" : offset).toBe(end.offset);
    }
    expect(ends.reduce((sum, end) => sum + Number(end.offset), 0)).toBe(messages.length);
    expect(seen.sort()).toEqual(messages.map((m) => m.value).sort());
    await producer.disconnect();
    await admin.disconnect();
  });
});
