import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

export interface Infra {
  readonly kafkaBrokers: string;
  readonly redisUrl: string;
  readonly source: { kafka: InfraSource; redis: InfraSource };
  teardown(): Promise<void>;
}

export type InfraSource = "environment" | "testcontainers" | "local";

export class InfraUnavailableError extends Error {
  override readonly name = "InfraUnavailableError";
}

/** Proves the broker answers a metadata request, not just that its port is open. */
export async function assertKafkaAnswers(brokers: string, timeoutMs = 30_000): Promise<void> {
  const kafka = new Kafka({
    clientId: "handoff-sync-provision",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await admin.connect();
      await admin.listTopics();
      await admin.disconnect();
      return;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await admin.disconnect().catch(() => undefined);
  throw new InfraUnavailableError(`Kafka at ${brokers} does not answer: ${String(last)}`);
}

export async function assertRedisAnswers(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new InfraUnavailableError(`Redis at ${url} does not answer: ${String(error)}`);
  } finally {
    redis.disconnect();
  }
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

interface Provided {
  readonly value: string;
  readonly source: InfraSource;
  readonly stop?: () => Promise<void>;
}

async function kafkaFromContainers(): Promise<Provided> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const port = 9092;
  const container = await new GenericContainer("apache/kafka:4.1.1")
    .withExposedPorts(port)
    .withEnvironment({
      KAFKA_NODE_ID: "1",
      KAFKA_PROCESS_ROLES: "broker,controller",
      KAFKA_LISTENERS: "PLAINTEXT://:9092,CONTROLLER://:9093",
      KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
      KAFKA_CONTROLLER_QUORUM_VOTERS: "1@localhost:9093",
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1",
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1",
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1",
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
      KAFKA_NUM_PARTITIONS: "3",
    })
    .withWaitStrategy(Wait.forListeningPorts())
    .start();
  // The advertised address must be the mapped one, which is only known after start.
  const brokers = `${container.getHost()}:${container.getMappedPort(port)}`;
  await container.exec([
    "/opt/kafka/bin/kafka-configs.sh",
    "--bootstrap-server",
    "localhost:9092",
    "--entity-type",
    "brokers",
    "--entity-name",
    "1",
    "--alter",
    "--add-config",
    `advertised.listeners=[PLAINTEXT://${brokers}]`,
  ]);
  return { value: brokers, source: "testcontainers", stop: async () => void (await container.stop()) };
}

async function redisFromContainers(): Promise<Provided> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const container = await new GenericContainer("redis:7")
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage("Ready to accept connections"))
    .start();
  return {
    value: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
    source: "testcontainers",
    stop: async () => void (await container.stop()),
  };
}

/** Runs infra/local/up.sh, which is idempotent and prints `export NAME=value` lines. */
export async function localInfra(env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  try {
    const { stdout } = await run("bash", [`${repoRoot}infra/local/up.sh`], {
      env,
      cwd: repoRoot,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
    const vars: Record<string, string> = {};
    for (const match of stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) {
      const [, name, value] = match;
      if (name && value !== undefined) vars[name] = value.replace(/^['"]|['"]$/g, "");
    }
    return vars;
  } catch (error) {
    const detail = error instanceof Error && "stderr" in error ? String(error.stderr) : String(error);
    throw new InfraUnavailableError(`infra/local/up.sh failed:\n${detail}`);
  }
}

/**
 * Kafka and Redis for a test run: the environment's when set, else containers when a Docker
 * engine answers, else the project's local infra. Never skips: no infra is a failure.
 */
export async function provisionInfra(env: NodeJS.ProcessEnv = process.env): Promise<Infra> {
  const envKafka = env.KAFKA_BROKERS?.trim();
  const envRedis = env.REDIS_URL?.trim();
  let kafka: Provided | undefined = envKafka ? { value: envKafka, source: "environment" } : undefined;
  let redis: Provided | undefined = envRedis ? { value: envRedis, source: "environment" } : undefined;

  if ((!kafka || !redis) && (await dockerAnswers())) {
    kafka ??= await kafkaFromContainers();
    redis ??= await redisFromContainers();
  }
  if (!kafka || !redis) {
    const vars = await localInfra(env);
    const brokers = vars.KAFKA_BROKERS;
    const url = vars.REDIS_URL;
    if (!brokers || !url)
      throw new InfraUnavailableError("infra/local/up.sh printed no KAFKA_BROKERS or REDIS_URL");
    kafka ??= { value: brokers, source: "local" };
    redis ??= { value: url, source: "local" };
  }
  await assertKafkaAnswers(kafka.value);
  await assertRedisAnswers(redis.value);
  const stops = [kafka.stop, redis.stop].filter((s): s is () => Promise<void> => s !== undefined);
  return {
    kafkaBrokers: kafka.value,
    redisUrl: redis.value,
    source: { kafka: kafka.source, redis: redis.source },
    teardown: async () => {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}
