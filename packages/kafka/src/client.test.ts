import { Writable } from "node:stream";
import { createLogger } from "@handoff-sync/telemetry";
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createKafkaClient } from "./client.js";

describe("createKafkaClient's log bridge", () => {
  it("logs kafkajs errors by their fields, and a handler's Redis error without its command arguments", () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    const log = createLogger({ level: "info", service: "test", destination });
    const kafka = createKafkaClient({ brokers: ["127.0.0.1:9"], clientId: "t", log });

    const protocol = new KafkaJSProtocolError({
      message: "This is not the correct coordinator",
      type: "NOT_COORDINATOR",
      code: 16,
      retriable: true,
    } as unknown as Error);
    const exhausted = new KafkaJSNumberOfRetriesExceeded(
      new KafkaJSConnectionError("Connection timeout", { broker: "kafka-0:9092" }),
      { retryCount: 5, retryTime: 3000 },
    );
    // What kafkajs' runner logs when eachBatch throws: the thrown error itself, under `error`.
    const handlerError = Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'."), {
      command: { name: "evalsha", args: ["sha", "1", '{"data":{"email":"jane@example.com"}}'] },
    });
    kafka.logger().error("Error when calling eachBatch", { error: handlerError, topic: "t", partition: 0 });
    kafka.logger().error("Crash", { error: exhausted });
    kafka.logger().error("Protocol", { error: protocol });

    expect(lines.join("")).not.toContain("jane@example.com");
    const [batch, crash, proto] = lines.map(
      (line) => JSON.parse(line) as { error: Record<string, unknown>; component: string },
    );
    expect(batch).toMatchObject({
      component: "kafkajs",
      error: {
        message: "OOM command not allowed when used memory > 'maxmemory'.",
        command: { name: "evalsha" },
      },
    });
    expect(crash?.error).toMatchObject({
      name: "KafkaJSNumberOfRetriesExceeded",
      retriable: false,
      retryCount: 5,
      cause: {
        name: "KafkaJSConnectionError",
        message: "Connection timeout",
        broker: "kafka-0:9092",
        retriable: true,
      },
    });
    expect(proto?.error).toMatchObject({
      name: "KafkaJSProtocolError",
      type: "NOT_COORDINATOR",
      code: 16,
      retriable: true,
    });
  });
});

function capturingClient(): { lines: string[]; kafka: ReturnType<typeof createKafkaClient> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const log = createLogger({ level: "debug", service: "test", destination });
  // No broker is contacted: creating a producer only builds it.
  return { lines, kafka: createKafkaClient({ brokers: ["127.0.0.1:1"], clientId: "client-test", log }) };
}

describe("createKafkaClient", () => {
  it("creates producers without kafkajs' default-partitioner warning", () => {
    const { lines, kafka } = capturingClient();
    kafka.producer();
    kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    expect(lines.filter((line) => line.includes('"level":"warn"'))).toEqual([]);
  });
});
