import type { TestProject } from "vitest/node";
import { provisionInfra } from "./provision.js";
import { startRedisCluster } from "./redis-cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string;
    redisUrl: string;
    /** True when `redisUrl` is a seed node of a Redis Cluster (REDIS_CLUSTER=1). */
    redisCluster: boolean;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // REDIS_CLUSTER=1: the run gets a Redis Cluster of its own (three masters, a replica each),
  // started here and torn down afterwards; Kafka comes from wherever it would come from anyway.
  const clusterMode = process.env.REDIS_CLUSTER === "1";
  const cluster = clusterMode ? await startRedisCluster() : undefined;
  const infra = await provisionInfra(
    cluster === undefined ? process.env : { ...process.env, REDIS_URL: cluster.url },
  );
  console.log(
    `test infra: kafka=${infra.kafkaBrokers} (${infra.source.kafka}) redis=${infra.redisUrl} (${cluster === undefined ? infra.source.redis : `cluster of ${cluster.nodes.length} nodes`})`,
  );
  project.provide("kafkaBrokers", infra.kafkaBrokers);
  project.provide("redisUrl", infra.redisUrl);
  project.provide("redisCluster", cluster !== undefined);
  return async () => {
    await infra.teardown();
    await cluster?.stop();
  };
}
