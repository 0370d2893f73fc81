import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis, type RedisOptions } from "ioredis";
import type { TestPki } from "./test-pki.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);

/** One redis-server of a test cluster; it can be killed and started again on its port and files. */
export interface ClusterNode {
  readonly port: number;
  readonly url: string;
  isRunning(): boolean;
  /** Kills the process (SIGKILL by default) and waits for its exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP and SIGCONT pause and resume the node). */
  signal(signal: NodeJS.Signals): void;
  /** The port of this node's master, when it is a replica. */
  masterPort(): Promise<number | undefined>;
  /** Starts it again with its node id, data and config file: it rejoins, as a replica if it was failed over. */
  start(): Promise<void>;
  /** `master` or `slave`, as the node itself reports. */
  role(): Promise<string>;
}

export interface TestRedisCluster {
  /** A seed node (the first master), for `REDIS_URL` with `REDIS_CLUSTER=true`. */
  readonly url: string;
  readonly nodes: readonly ClusterNode[];
  readonly dir: string;
  /** The node now serving `slot` as its master (asked of a running node, so it follows failovers). */
  masterOf(slot: number): Promise<ClusterNode>;
  /** Resolves once every slot is served, every node agrees the cluster is ok and replicas are in sync. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterSettings {
  readonly masters?: number;
  readonly replicasPerMaster?: number;
  /** Extra redis-server options for every node, e.g. `--appendonly yes --appendfsync always`. */
  readonly args?: readonly string[];
  /** How long a master may be unreachable before its replica takes over (cluster-node-timeout). */
  readonly nodeTimeoutMs?: number;
  /**
   * TLS only (clients, the cluster bus and replication, each demanding a certificate from the test
   * CA) and one ACL user, the default user off; replicas authenticate to their masters as that user.
   */
  readonly secure?: {
    readonly pki: TestPki;
    readonly user: { readonly name: string; readonly password: string };
  };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
  throw new Error("no free port pair for a Redis Cluster node");
}

async function answers(port: number, command: string[], access: RedisOptions = {}): Promise<string> {
  const probe = new Redis(port, "127.0.0.1", {
    ...access,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    const [name, ...args] = command;
    return String(await probe.call(name ?? "PING", ...args));
  } finally {
    probe.disconnect();
  }
}

/**
 * A local Redis Cluster without Docker: `masters` redis-servers with `--cluster-enabled yes`, each
 * with `replicasPerMaster` replicas, joined by `redis-cli --cluster create`, in a temp directory on
 * free ports. For tests only; `stop` kills every node and removes the directory.
 */
export async function startRedisCluster(settings: RedisClusterSettings = {}): Promise<TestRedisCluster> {
  const masters = settings.masters ?? 3;
  const replicas = settings.replicasPerMaster ?? 1;
  const dir = await mkdtemp(join(tmpdir(), "handoff-sync-cluster-"));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await clusterPort(taken));
  const processes = new Map<number, ChildProcess>();
  const { secure } = settings;
  const access: RedisOptions =
    secure === undefined
      ? {}
      : {
          username: secure.user.name,
          password: secure.user.password,
          tls: {
            ca: await readFile(secure.pki.caFile, "utf8"),
            cert: await readFile(secure.pki.clientCertFile, "utf8"),
            key: await readFile(secure.pki.clientKeyFile, "utf8"),
          },
        };
  const ask = (port: number, command: string[]) => answers(port, command, access);
  const listen = (port: number): string[] =>
    secure === undefined
      ? ["--port", String(port)]
      : [
          "--port",
          "0",
          "--tls-port",
          String(port),
          "--tls-cluster",
          "yes",
          "--tls-replication",
          "yes",
          "--tls-cert-file",
          secure.pki.serverCertFile,
          "--tls-key-file",
          secure.pki.serverKeyFile,
          "--tls-ca-cert-file",
          secure.pki.caFile,
          "--tls-auth-clients",
          "yes",
          "--user",
          "default",
          "off",
          "--user",
          secure.user.name,
          "on",
          `>${secure.user.password}`,
          "~*",
          "&*",
          "+@all",
          "--masteruser",
          secure.user.name,
          "--masterauth",
          secure.user.password,
        ];
  const spawnNode = async (port: number): Promise<void> => {
    const nodeDir = join(dir, String(port));
    await mkdir(nodeDir, { recursive: true });
    const child = spawn(
      "redis-server",
      [
        ...listen(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        nodeDir,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        String(settings.nodeTimeoutMs ?? 2000),
        // A replica may always take over in a test, however long it was cut off.
        "--cluster-replica-validity-factor",
        "0",
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "noeviction",
        ...(settings.args ?? []),
      ],
      { stdio: "ignore" },
    );
    processes.set(port, child);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited during start-up`);
        return (await ask(port, ["PING"])) === "PONG";
      },
      { timeoutMs: 20_000, intervalMs: 100, message: `cluster node on port ${port} accepts connections` },
    );
  };
  const kill = async (port: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> => {
    const child = processes.get(port);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(ports.map((port) => kill(port)));
    await rm(dir, { recursive: true, force: true });
  };
  const healthy = async (timeoutMs = 60_000): Promise<void> => {
    await waitFor(
      async () => {
        for (const port of ports) {
          const child = processes.get(port);
          if (child === undefined || child.exitCode !== null || child.signalCode !== null) continue;
          const info = await ask(port, ["CLUSTER", "INFO"]);
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
          const replication = await ask(port, ["INFO", "replication"]);
          if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 250, message: "Redis Cluster healthy (every slot served, replicas in sync)" },
    );
  };
  try {
    await Promise.all(ports.map(spawnNode));
    await run(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...ports.map((port) => `127.0.0.1:${port}`),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
        ...(secure === undefined
          ? []
          : [
              "--tls",
              "--cacert",
              secure.pki.caFile,
              "--cert",
              secure.pki.clientCertFile,
              "--key",
              secure.pki.clientKeyFile,
              "--user",
              secure.user.name,
              "--pass",
              secure.user.password,
              "--no-auth-warning",
            ]),
      ],
      { timeout: 60_000 },
    );
    await healthy();
  } catch (error) {
    await stop();
    throw error;
  }
  const scheme = secure === undefined ? "redis" : "rediss";
  const nodes: ClusterNode[] = ports.map((port) => ({
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    isRunning: () => {
      const child = processes.get(port);
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    kill: (signal) => kill(port, signal),
    signal: (signal) => void processes.get(port)?.kill(signal),
    masterPort: async () => {
      const found = /^master_port:(\d+)/m.exec(await ask(port, ["INFO", "replication"]))?.[1];
      return found === undefined ? undefined : Number(found);
    },
    start: () => spawnNode(port),
    role: async () => /role:(\w+)/.exec(await ask(port, ["INFO", "replication"]))?.[1] ?? "unknown",
  }));
  const masterOf = async (slot: number): Promise<ClusterNode> => {
    const asked = nodes.find((node) => node.isRunning());
    if (asked === undefined) throw new Error("no cluster node is running");
    const probe = new Redis(asked.port, "127.0.0.1", { ...access, maxRetriesPerRequest: 1 });
    try {
      const ranges = (await probe.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
      const range = ranges.find(([start, end]) => slot >= start && slot <= end);
      const node = nodes.find((n) => n.port === range?.[2][1]);
      if (node === undefined) throw new Error(`no master serves slot ${slot}`);
      return node;
    } finally {
      probe.disconnect();
    }
  };
  return { url: `${scheme}://127.0.0.1:${ports[0] ?? 0}`, nodes, dir, masterOf, healthy, stop };
}

/** Structurally the store's `RedisTarget`: what a test connects to, a single Redis or a cluster. */
export type TestRedisTarget =
  | { readonly mode: "single"; readonly url: string }
  | { readonly mode: "cluster"; readonly nodes: readonly { host: string; port: number }[] };

export function testRedisTarget(url: string, cluster: boolean): TestRedisTarget {
  if (!cluster) return { mode: "single", url };
  const parsed = new URL(url);
  return { mode: "cluster", nodes: [{ host: parsed.hostname, port: Number(parsed.port || "6379") }] };
}

/** The services' environment for this Redis: `REDIS_CLUSTER=true` on a cluster. */
export function redisEnv(url: string, cluster: boolean): Record<string, string> {
  return cluster ? { REDIS_URL: url, REDIS_CLUSTER: "true" } : { REDIS_URL: url };
}
