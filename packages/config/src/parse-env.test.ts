import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError } from "./config-error.js";
import { CommonEnvSchema, KafkaEnvSchema, RedisEnvSchema, portSchema } from "./env-schemas.js";
import { parseEnv } from "./parse-env.js";

const ServiceEnvSchema = CommonEnvSchema.extend({ PORT: portSchema(3000) })
  .extend(KafkaEnvSchema.shape)
  .extend(RedisEnvSchema.shape)
  .extend({ FEATURE_X: z.stringbool().default(false) });

const minimal = {
  KAFKA_BROKERS: "localhost:9092",
  REDIS_URL: "redis://localhost:6379",
  HANDOFF_SYNC_CONFIG: "config.yaml",
};

describe("parseEnv", () => {
  it("applies defaults", () => {
    expect(parseEnv(ServiceEnvSchema, minimal)).toEqual({
      ...minimal,
      KAFKA_BROKERS: ["localhost:9092"],
      KAFKA_SSL: false,
      KAFKA_CLIENT_ID: "handoff-sync",
      KAFKA_GROUP_ID: "handoff-sync-consumer",
      KAFKA_SESSION_TIMEOUT_MS: 10_000,
      KAFKA_HEARTBEAT_INTERVAL_MS: 3_000,
      REDIS_PREFIX: "hs",
      REDIS_CLUSTER: false,
      REDIS_CLUSTER_NODES: [],
      LOG_LEVEL: "info",
      LOG_REDACT_PATHS: [],
      PORT: 3000,
      FEATURE_X: false,
    });
  });

  it("splits and trims the broker list and coerces numbers", () => {
    const env = parseEnv(ServiceEnvSchema, {
      ...minimal,
      KAFKA_BROKERS: " a:9092, b:9093 ,",
      PORT: "8080",
      KAFKA_SESSION_TIMEOUT_MS: "30000",
    });
    expect(env.KAFKA_BROKERS).toEqual(["a:9092", "b:9093"]);
    expect(env.PORT).toBe(8080);
    expect(env.KAFKA_SESSION_TIMEOUT_MS).toBe(30_000);
  });

  it("treats empty strings as unset, so defaults apply", () => {
    const env = parseEnv(ServiceEnvSchema, { ...minimal, LOG_LEVEL: "", PORT: "  " });
    expect(env.LOG_LEVEL).toBe("info");
    expect(env.PORT).toBe(3000);
  });

  it.each([
    ["false", false],
    ["0", false],
    ["no", false],
    ["true", true],
    ["1", true],
  ])("reads boolean %s as %s (never coerces 'false' to true)", (raw, expected) => {
    expect(parseEnv(ServiceEnvSchema, { ...minimal, FEATURE_X: raw }).FEATURE_X).toBe(expected);
  });

  it("lists every problem, naming each variable, one per line", () => {
    let caught: unknown;
    try {
      parseEnv(ServiceEnvSchema, {
        KAFKA_BROKERS: "",
        REDIS_URL: "http://nope",
        LOG_LEVEL: "loud",
        PORT: "x",
        FEATURE_X: "maybe",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems.map((p) => p.path).sort()).toEqual(
      ["FEATURE_X", "HANDOFF_SYNC_CONFIG", "KAFKA_BROKERS", "LOG_LEVEL", "PORT", "REDIS_URL"].sort(),
    );
    expect(error.problems.find((p) => p.path === "KAFKA_BROKERS")?.message).toBe("is required but not set");
    const lines = error.message.split("\n");
    expect(lines).toHaveLength(7);
    expect(lines.slice(1).every((line) => /^ {2}- [A-Z_]+: /.test(line))).toBe(true);
  });

  it("rejects a broker without a port", () => {
    expect(() => parseEnv(KafkaEnvSchema, { KAFKA_BROKERS: "localhost" })).toThrow(
      /KAFKA_BROKERS\.0: each broker must be host:port/,
    );
  });
});
