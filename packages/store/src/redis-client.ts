import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

/**
 * The one Redis handle every module takes: a single server or a Redis Cluster
 * (docs/decisions/0040-redis-cluster-layout.md). Both speak the same commands; what differs is
 * that a cluster's multi-key commands must stay in one slot (the key layout guarantees it) and
 * that whole-keyspace commands (INFO, SCAN, WAIT) must be sent to every master.
 */
export type RedisClient = Redis | Cluster;

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** Structurally `RedisTopology` of @handoff-sync/config, so this package needs no config. */
export type RedisTarget =
  | { readonly mode: "single"; readonly url: string }
  | { readonly mode: "cluster"; readonly nodes: readonly RedisNode[] };

/** Options for every node's connection: credentials, TLS and what the caller's purpose needs. */
export type RedisClientOptions = Pick<
  RedisOptions,
  | "username"
  | "password"
  | "tls"
  | "maxRetriesPerRequest"
  | "enableOfflineQueue"
  | "lazyConnect"
  | "connectTimeout"
  | "retryStrategy"
  | "enableAutoPipelining"
>;

/** How the cluster client follows a failover; exported so tests and docs name the same figures. */
export const CLUSTER_CLIENT_OPTIONS = {
  // Reads go to masters: a replica may lag behind the write this process just made.
  scaleReads: "master",
  // A failover moves slots: retry a command a few times while the replica is promoted.
  retryDelayOnFailover: 200,
  retryDelayOnClusterDown: 300,
  retryDelayOnTryAgain: 100,
  maxRedirections: 32,
  // The slot map is fetched at start and after every MOVED; a busy node answers CLUSTER SLOTS
  // slowly, and a refresh that times out on every node fails start-up (ioredis' default is 1 s).
  slotsRefreshTimeout: 10_000,
  // Nodes announce addresses; with TLS the certificate is checked against the seed's name, not a
  // DNS answer for the announced address (managed clusters need this).
  dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address),
} satisfies ClusterOptions;

export function createRedisClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  if (target.mode === "single") return new Redis(target.url, options);
  const { lazyConnect, enableOfflineQueue, enableAutoPipelining, ...nodeOptions } = options;
  return new Cluster(
    target.nodes.map((node) => ({ host: node.host, port: node.port })),
    {
      ...CLUSTER_CLIENT_OPTIONS,
      redisOptions: nodeOptions,
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      // Per node: a cluster's auto-pipeline never mixes nodes, so it stays slot-safe.
      ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    },
  );
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** The connections to every master (one for a single Redis): where keyspace-wide commands go. */
export function mastersOf(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes("master") : [client];
}

/** Resolves once the client can take commands (a cluster: its slot map is loaded). */
export async function untilReady(client: RedisClient): Promise<void> {
  if (client.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const onEnd = (): void => reject(new Error("redis connection ended"));
    client.once("ready", () => {
      client.off("end", onEnd);
      resolve();
    });
    client.once("end", onEnd);
  });
}

/**
 * Every key matching `pattern` on every master (SCAN, never KEYS): a single Redis or each shard of
 * a cluster. For operator tools and tests; the services' hot paths never scan.
 */
export async function scanAll(client: RedisClient, pattern: string, count = 1000): Promise<string[]> {
  const found: string[] = [];
  for (const node of mastersOf(client)) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      found.push(...keys);
    } while (cursor !== "0");
  }
  return found;
}
