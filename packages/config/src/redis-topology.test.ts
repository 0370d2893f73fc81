import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { RedisEnvSchema } from "./env-schemas.js";
import { parseEnv } from "./parse-env.js";
import { redisTopology } from "./redis-topology.js";

const topologyOf = (vars: Record<string, string>) => redisTopology(parseEnv(RedisEnvSchema, vars));
const problemsOf = (vars: Record<string, string>): string[] => {
  try {
    topologyOf(vars);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
};

describe("redisTopology", () => {
  it("is one server unless REDIS_CLUSTER is true", () => {
    expect(topologyOf({ REDIS_URL: "redis://redis:6379" })).toEqual({
      mode: "single",
      url: "redis://redis:6379",
    });
  });

  it("takes REDIS_URL's host as the first seed and REDIS_CLUSTER_NODES as further seeds", () => {
    expect(
      topologyOf({
        REDIS_URL: "rediss://alice:pw@redis-0.redis:6380",
        REDIS_CLUSTER: "true",
        REDIS_CLUSTER_NODES: " redis-1.redis:6380, redis-0.redis:6380,10.0.0.3:7000",
      }),
    ).toEqual({
      mode: "cluster",
      nodes: [
        { host: "redis-0.redis", port: 6380 },
        { host: "redis-1.redis", port: 6380 },
        { host: "10.0.0.3", port: 7000 },
      ],
    });
    expect(topologyOf({ REDIS_URL: "redis://redis", REDIS_CLUSTER: "1" })).toEqual({
      mode: "cluster",
      nodes: [{ host: "redis", port: 6379 }],
    });
  });

  it("refuses a prefix with a hash tag, a database number and seeds without cluster mode", () => {
    expect(
      problemsOf({ REDIS_URL: "redis://redis:6379/3", REDIS_CLUSTER: "true", REDIS_PREFIX: "{hs}" }),
    ).toEqual([
      "REDIS_PREFIX: must not contain '{' or '}' with REDIS_CLUSTER=true (it would put every key in one slot)",
      "REDIS_URL: must not name a database with REDIS_CLUSTER=true (a cluster has only 0)",
    ]);
    expect(problemsOf({ REDIS_URL: "redis://redis:6379", REDIS_CLUSTER_NODES: "redis-1:6379" })).toEqual([
      "REDIS_CLUSTER_NODES: is set but REDIS_CLUSTER is not true",
    ]);
    // A prefix with braces stays allowed on a single Redis, as before.
    expect(problemsOf({ REDIS_URL: "redis://redis:6379", REDIS_PREFIX: "{hs}" })).toEqual([]);
  });

  it("checks each seed's form", () => {
    expect(() =>
      topologyOf({ REDIS_URL: "redis://redis", REDIS_CLUSTER: "true", REDIS_CLUSTER_NODES: "redis-1" }),
    ).toThrow(/host:port/);
  });
});
