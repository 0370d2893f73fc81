import { ConfigError, type ConfigProblem } from "./config-error.js";
import type { RedisEnv } from "./env-schemas.js";

export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Where the services' Redis is: one server (`REDIS_URL`) or a Redis Cluster reached through seed
 * nodes (docs/decisions/0040-redis-cluster-layout.md). Credentials and TLS come from
 * `redisOptions` in both modes.
 */
export type RedisTopology =
  | { readonly mode: "single"; readonly url: string }
  | { readonly mode: "cluster"; readonly nodes: readonly RedisNodeAddress[] };

type RedisTopologyEnv = Pick<
  RedisEnv,
  "REDIS_URL" | "REDIS_PREFIX" | "REDIS_CLUSTER" | "REDIS_CLUSTER_NODES"
>;

const addressOf = (hostPort: string): RedisNodeAddress => {
  const at = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) };
};

/** Reads the topology from the environment; throws a ConfigError listing every problem. */
export function redisTopology(env: RedisTopologyEnv): RedisTopology {
  const problems: ConfigProblem[] = [];
  if (!env.REDIS_CLUSTER) {
    if (env.REDIS_CLUSTER_NODES.length > 0)
      problems.push({ path: "REDIS_CLUSTER_NODES", message: "is set but REDIS_CLUSTER is not true" });
    if (problems.length > 0) throw new ConfigError(problems);
    return { mode: "single", url: env.REDIS_URL };
  }
  // A hash tag in the prefix would become the tag of every key: the whole deployment in one slot.
  if (/[{}]/.test(env.REDIS_PREFIX))
    problems.push({
      path: "REDIS_PREFIX",
      message: "must not contain '{' or '}' with REDIS_CLUSTER=true (it would put every key in one slot)",
    });
  const url = new URL(env.REDIS_URL);
  if (url.pathname !== "" && url.pathname !== "/" && url.pathname !== "/0")
    problems.push({
      path: "REDIS_URL",
      message: "must not name a database with REDIS_CLUSTER=true (a cluster has only 0)",
    });
  if (problems.length > 0) throw new ConfigError(problems);
  const seed = { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || "6379") };
  const nodes = [seed, ...env.REDIS_CLUSTER_NODES.map(addressOf)].filter(
    (node, i, all) => all.findIndex((n) => n.host === node.host && n.port === node.port) === i,
  );
  return { mode: "cluster", nodes };
}
