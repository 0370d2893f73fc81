import {
  kafkaConnectionOptions,
  otlpTracesEndpoint,
  redisOptions,
  redisTopology,
  routeEvent,
  type LoadedConfig,
} from "@handoff-sync/config";
import { createIngest } from "@handoff-sync/ingest";
import {
  createBatchConsumer,
  createKafkaClient,
  createRejectedPublisher,
  ensureTopics,
  type InboundRecord,
} from "@handoff-sync/kafka";
import { createDeliveryQueues, createReplicaWait } from "@handoff-sync/queue";
import { createStateCatalogue } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient, untilReady } from "@handoff-sync/store";
import {
  createHealthServer,
  createIngestMetrics,
  createLogger,
  createRegistry,
  exitOnFatal,
  onShutdown,
  startTracing,
} from "@handoff-sync/telemetry";
import { loadConsumerConfig, watchConsumerConfig } from "./config.js";

const { env, destinations: config } = await loadConsumerConfig();
const log = createLogger({ level: env.LOG_LEVEL, service: "consumer", redact: env.LOG_REDACT_PATHS });
exitOnFatal(log);
const tracesEndpoint = otlpTracesEndpoint(env);
const tracing = await startTracing({
  service: "consumer",
  ...(tracesEndpoint === undefined ? {} : { endpoint: tracesEndpoint }),
});

// TLS and credentials come from the environment, built the same way in every service.
// A single Redis or a cluster (REDIS_CLUSTER): the store's scripts and the queues' keys are
// single-slot by construction (docs/decisions/0040-redis-cluster-layout.md).
const redis = createRedisClient(redisTopology(env), {
  ...(await redisOptions(env)),
  maxRetriesPerRequest: 3,
  enableOfflineQueue: false,
  // A group's applies and bulk enqueues are issued together; auto-pipelining sends the commands of
  // one tick in one write per Redis node (so it stays Cluster-safe) instead of a write each.
  enableAutoPipelining: true,
});
redis.on("error", (error) => log.error({ err: error }, "redis error"));
await untilReady(redis);

const kafka = createKafkaClient({
  brokers: env.KAFKA_BROKERS,
  clientId: env.KAFKA_CLIENT_ID,
  log,
  ...(await kafkaConnectionOptions(env)),
});
if (env.KAFKA_CREATE_TOPICS) {
  await ensureTopics(kafka, [{ topic: config.source.topic }, { topic: config.source.rejected_topic }]);
}
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const rejected = createRejectedPublisher(producer, config.source.rejected_topic);

const store = createHandoffStore({
  redis,
  prefix: env.REDIS_PREFIX,
  retentionMs: env.HANDOFF_RETENTION_MS,
  versionFloorRetentionMs: env.HANDOFF_VERSION_FLOOR_RETENTION_MS,
});
const policies = (loaded: LoadedConfig) =>
  Object.fromEntries(Object.entries(loaded.destinations).map(([name, d]) => [name, d.retry]));
const queues = createDeliveryQueues({
  connection: redis,
  prefix: env.REDIS_PREFIX,
  destinations: policies(config),
});
// The store and the queues write on `redis`, so its WAIT covers every write of a record.
const replicaWait = createReplicaWait({
  redis,
  replicas: env.REDIS_WAIT_REPLICAS,
  timeoutMs: env.REDIS_WAIT_TIMEOUT_MS,
});
const registry = createRegistry("consumer");
const metrics = createIngestMetrics(registry);

// Everything a record is judged by, built from one config: a reload swaps the whole of it at once.
const buildIngest = (loaded: LoadedConfig) =>
  createIngest<InboundRecord>({
    store,
    catalogue: createStateCatalogue(loaded.states),
    maxBytes: loaded.source.max_message_bytes,
    limits: loaded.source.limits,
    probe: async () => void (await redis.ping()),
    input: loaded.source,
    route: (event) => routeEvent(loaded, event),
    enqueue: (destination, job) => queues.enqueue(destination, job),
    enqueueBulk: (destination, jobs) => queues.enqueueBulk(destination, jobs),
    afterWrite: replicaWait,
    reject: (record, reason, error) => rejected.reject(record, { reason, error }),
    log,
    metrics,
    tracer: tracing.tracer,
  });
let ingest = buildIngest(config);

const reloader = watchConsumerConfig(env.HANDOFF_SYNC_CONFIG, {
  log,
  onChange: (next) => {
    const { topic, rejected_topic } = config.source;
    if (next.source.topic !== topic || next.source.rejected_topic !== rejected_topic) {
      log.warn(
        {
          topic,
          rejected_topic,
          requested: { topic: next.source.topic, rejected_topic: next.source.rejected_topic },
        },
        "source topics change only on restart; keeping the current ones",
      );
    }
    // Synchronous from here: no record is handled between adding the queues and swapping the ingest.
    queues.configure(policies(next));
    ingest = buildIngest(next);
    log.info(
      { destinations: Object.keys(next.destinations), format: next.source.format },
      "consumer configuration applied",
    );
  },
});

const consumer = createBatchConsumer({
  kafka,
  groupId: env.KAFKA_GROUP_ID,
  topic: config.source.topic,
  log,
  sessionTimeoutMs: env.KAFKA_SESSION_TIMEOUT_MS,
  heartbeatIntervalMs: env.KAFKA_HEARTBEAT_INTERVAL_MS,
  partitionsConsumedConcurrently: env.KAFKA_PARTITIONS_CONCURRENCY,
  recordsInFlight: env.KAFKA_RECORDS_IN_FLIGHT,
  fetchMaxBytesPerPartition: env.KAFKA_FETCH_MAX_BYTES_PER_PARTITION,
  fetchMaxBytes: env.KAFKA_FETCH_MAX_BYTES,
  onFatal: (error) => {
    log.fatal({ err: error }, "consumer cannot continue");
    process.exit(1);
  },
  handleGroup: async (records) => {
    const started = performance.now();
    const results = await ingest.ingestBatch(records);
    // Every record of a group waits for the group's enqueue: its latency is the group's.
    const seconds = (performance.now() - started) / 1000;
    for (const result of results) {
      metrics.enqueueLatency.observe(seconds);
      metrics.consumed.inc({ result: result.result });
      if (result.result === "rejected") metrics.rejected.inc({ reason: result.reason });
    }
  },
  onProgress: (topic, partition, { lag, position }) => {
    metrics.lag.set({ topic, partition: String(partition) }, lag);
    metrics.position.set({ topic, partition: String(partition) }, position);
  },
});

const health = createHealthServer({
  registry,
  checks: {
    redis: async () => void (await redis.ping()),
    kafka: () =>
      consumer.isConnected() ? Promise.resolve() : Promise.reject(new Error("consumer not connected")),
  },
});
// Registered before anything answers, so a SIGTERM during the group join is handled too.
onShutdown(
  async () => {
    health.markShuttingDown();
    await reloader.stop();
    await consumer.stop();
    await producer.disconnect();
    await queues.close();
    await redis.quit();
    await tracing.shutdown();
    await health.close();
  },
  { log },
);

const port = await health.listen(env.PORT);
await consumer.start();
log.info(
  { port, topic: config.source.topic, destinations: Object.keys(config.destinations) },
  "consumer started",
);
