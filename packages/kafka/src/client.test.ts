import { Writable } from "node:stream";
import { createLogger } from "@handoff-sync/telemetry";
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createKafkaClient } from "./client.js";
import { bridgedLevel, crashLevel, RETRIABLE_PROTOCOL_MESSAGES } from "./log-level.js";

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

describe("createKafkaClient's levels for what kafkajs retries by itself", () => {
  const levelOf = (line: string): unknown => (JSON.parse(line) as { level: unknown }).level;

  it("logs a retriable broker answer at info, and keeps a final one at error", () => {
    const { lines, kafka } = capturingClient();
    const connection = kafka.logger().namespace("Connection");
    // What kafkajs' connection logs on a fresh broker, before its retry finds the coordinator.
    connection.error("Response GroupCoordinator(key: 10, version: 2)", {
      error: "The coordinator is loading and hence can't process requests for this group",
      correlationId: 1,
      size: 30,
    });
    connection.error("Response JoinGroup(key: 11, version: 5)", {
      error: "The group coordinator is not available",
      correlationId: 2,
      size: 30,
    });
    // Not retriable: the broker refuses for good, and an operator must hear of it.
    connection.error("Response SaslAuthenticate(key: 36, version: 1)", {
      error: "SASL Authentication failed",
      correlationId: 3,
      size: 30,
    });
    kafka
      .logger()
      .namespace("Consumer")
      .error("Crash: KafkaJSNumberOfRetriesExceeded: The coordinator is loading", {
        groupId: "g",
      });
    expect(lines.map(levelOf)).toEqual(["info", "info", "error", "error"]);
  });

  it("logs a restart after a crash on a retriable broker answer at info, any other crash at error", () => {
    const { lines, kafka } = capturingClient();
    const consumer = kafka.logger().namespace("Consumer");
    // A busy broker's coordinator still loading after kafkajs' join retries: it restarts the consumer.
    consumer.error(
      "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group",
      { groupId: "g", retryCount: 0 },
    );
    consumer.error("Restarting the consumer in 300ms", { groupId: "g", retryTime: 300 });
    consumer.error("Crash: KafkaJSConnectionError: Connection error: connect ECONNREFUSED", { groupId: "g" });
    consumer.error("Crash: KafkaJSProtocolError: SASL Authentication failed", { groupId: "g" });
    expect(lines.map(levelOf)).toEqual(["info", "info", "error", "error"]);
  });

  it("logs a rebalance at info, other warnings as they are", () => {
    const { lines, kafka } = capturingClient();
    kafka.logger().namespace("Runner").warn("The group is rebalancing, re-joining", { groupId: "g" });
    kafka.logger().namespace("ConsumerGroup").warn("Consumer group received unsubscribed topics", {});
    expect(lines.map(levelOf)).toEqual(["info", "warn"]);
  });
});

describe("bridgedLevel", () => {
  it("knows kafkajs' retriable broker errors from its own table", () => {
    expect(
      RETRIABLE_PROTOCOL_MESSAGES.has(
        "The coordinator is loading and hence can't process requests for this group",
      ),
    ).toBe(true);
    expect(RETRIABLE_PROTOCOL_MESSAGES.has("This is not the correct coordinator for this group")).toBe(true);
    expect(RETRIABLE_PROTOCOL_MESSAGES.has("SASL Authentication failed")).toBe(false);
    expect(bridgedLevel("debug", { namespace: "Connection", message: "Response x", error: "y" })).toBe(
      "debug",
    );
  });
});

describe("crashLevel", () => {
  const protocolError = (message: string): Error =>
    Object.assign(new Error(message), { name: "KafkaJSProtocolError" });
  const loading = "The coordinator is loading and hence can't process requests for this group";

  it("is info only for a restart after a retriable broker answer", () => {
    expect(crashLevel(protocolError(loading), true)).toBe("info");
    expect(crashLevel(protocolError(loading), false)).toBe("error");
    expect(crashLevel(protocolError("SASL Authentication failed"), true)).toBe("error");
    expect(crashLevel(new Error(loading), true)).toBe("error");
    expect(crashLevel("not an error", true)).toBe("error");
  });
});
