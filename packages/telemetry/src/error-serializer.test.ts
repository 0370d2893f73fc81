import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { serializeError } from "./error-serializer.js";
import { createLogger } from "./logger.js";

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { lines, log: createLogger({ level: "debug", service: "test", destination }) };
}

/** What ioredis throws: a ReplyError with the command and its arguments attached. */
function replyError(message: string, name: string, args: readonly string[]): Error {
  class ReplyError extends Error {}
  return Object.assign(new ReplyError(message), { command: { name, args } });
}

describe("serializeError", () => {
  it("drops ioredis command arguments, keeps the command name, message and stack", () => {
    const { lines, log } = capture();
    log.error(
      {
        err: replyError("WRONGPASS invalid username-password pair or user is disabled.", "auth", [
          "rotated-password-1",
        ]),
      },
      "redis error",
    );
    log.error(
      {
        error: replyError("OOM command not allowed when used memory > 'maxmemory'.", "evalsha", [
          "sha",
          "1",
          '{"email":"jane@example.com"}',
        ]),
      },
      "as kafkajs logs it",
    );
    const text = lines.join("");
    expect(text).not.toContain("rotated-password-1");
    expect(text).not.toContain("jane@example.com");
    const [first, second] = lines.map((line) => JSON.parse(line) as Record<string, Record<string, unknown>>);
    expect(first?.err).toMatchObject({
      type: "ReplyError",
      message: "WRONGPASS invalid username-password pair or user is disabled.",
      command: { name: "auth" },
    });
    expect(first?.err?.stack).toMatch(/^Error: WRONGPASS/);
    expect(second?.error).toMatchObject({
      message: "OOM command not allowed when used memory > 'maxmemory'.",
      command: { name: "evalsha" },
    });
  });

  it("follows causes, aggregated and previous errors, and drops their payloads too", () => {
    const inner = replyError("READONLY You can't write against a read only replica.", "set", [
      "k",
      "customer-secret-data",
    ]);
    const exec = Object.assign(new Error("EXECABORT Transaction discarded because of previous errors."), {
      previousErrors: [inner],
    });
    const wrapped = new Error("store write failed", { cause: new AggregateError([exec], "all failed") });
    const out = JSON.stringify(serializeError(wrapped));
    expect(out).not.toContain("customer-secret-data");
    expect(serializeError(wrapped)).toMatchObject({
      message: "store write failed",
      cause: {
        type: "AggregateError",
        errors: [
          {
            message: "EXECABORT Transaction discarded because of previous errors.",
            previousErrors: [
              { message: "READONLY You can't write against a read only replica.", command: { name: "set" } },
            ],
          },
        ],
      },
    });
  });

  it("keeps the fields kafkajs errors are read by, not request buffers", () => {
    class KafkaJSError extends Error {
      constructor(
        message: string,
        readonly retriable: boolean,
        cause?: Error,
      ) {
        super(message);
        this.name = "KafkaJSProtocolError";
        Object.assign(this, {
          type: "NOT_COORDINATOR",
          code: 16,
          broker: "kafka-0:9092",
          request: { buffer: Buffer.from("record payload") },
          cause,
        });
      }
    }
    const error = new KafkaJSError("This is not the correct coordinator", true, new Error("socket hang up"));
    expect(serializeError(error)).toMatchObject({
      name: "KafkaJSProtocolError",
      message: "This is not the correct coordinator",
      retriable: true,
      type: "NOT_COORDINATOR",
      code: 16,
      broker: "kafka-0:9092",
      cause: { message: "socket hang up" },
    });
    expect(JSON.stringify(serializeError(error))).not.toContain("record payload");
  });

  it("replaces passwords in URLs inside messages and stacks", () => {
    const out = serializeError(new Error("connect to redis://app:s3cr3t-pw@redis:6379/0 failed"));
    expect(JSON.stringify(out)).not.toContain("s3cr3t-pw");
    expect(out).toMatchObject({ message: "connect to redis://app:[Redacted]@redis:6379/0 failed" });
  });

  it("survives cycles and leaves values that are not errors alone", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    Object.assign(a, { cause: b });
    expect(() => JSON.stringify(serializeError(a))).not.toThrow();
    expect(serializeError("a string")).toBe("a string");
    expect(serializeError({ reason: "x" })).toEqual({ reason: "x" });
  });
});
