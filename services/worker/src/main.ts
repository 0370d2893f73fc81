import { createAdapter } from "@handoff-sync/adapters";
import { otlpTracesEndpoint, redisOptions } from "@handoff-sync/config";
import { createDeliveryQueues, createDeliveryWorker, inspectQueue, pruneDeadLetters, sweepStalledJobs } from "@handoff-sync/queue";
import { createHandoffStore } from "@handoff-sync/store";
import { createDeliveryMetrics, createHealthServer, createLogger, createRegistry, exitOnFatal, onShutdown, startTracing } from "@handoff-sync/telemetry";
import { Redis } from "ioredis";
import { loadWorkerConfig } from "./config.js";
import { drainWorkers } from "./drain.js";

const { env, destinations: config } = await loadWorkerConfig();
const log = createLogger({ level: env.LOG_LEVEL, service: "worker", redact: env.LOG_REDACT_PATHS });
exitOnFatal(log);
const tracesEndpoint = otlpTracesEndpoint(env);
const tracing = startTracing({ service: "worker", ...(tracesEndpoint === undefined ? {} : { endpoint: tracesEndpoint }) });

// BullMQ workers block on Redis: they need maxRetriesPerRequest null.
const connection = new Redis(env.REDIS_URL, { ...(await redisOptions(env)), maxRetriesPerRequest: null });
connection.on("error", (error) => log.error({ err: error }, "redis error"));
const store = createHandoffStore({ redis: connection, prefix: env.REDIS_PREFIX, retentionMs: env.HANDOFF_RETENTION_MS });
const registry = createRegistry("worker");
const metrics = createDeliveryMetrics(registry);

const served = Object.entries(config.destinations).filter(
  ([name]) => env.WORKER_DESTINATIONS.length === 0 || env.WORKER_DESTINATIONS.includes(name),
);
const queues = createDeliveryQueues({
  connection,
  prefix: env.REDIS_PREFIX,
  destinations: Object.fromEntries(served.map(([name, d]) => [name, d.retry])),
});
const proxy = {
  ...(env.HTTPS_PROXY !== undefined ? { httpsProxy: env.HTTPS_PROXY } : {}),
  ...(env.HTTP_PROXY !== undefined ? { httpProxy: env.HTTP_PROXY } : {}),
  ...(env.NO_PROXY !== undefined ? { noProxy: env.NO_PROXY } : {}),
};
const adapters = served.map(([name, destination]) => createAdapter(name, destination, { proxy }));
const workers = served.map(([name, destination], index) => {
  const adapter = adapters[index];
  if (!adapter) throw new Error(`no adapter for ${name}`);
  return createDeliveryWorker({
    queue: queues.get(name),
    connection,
    store,
    deliver: (request) => adapter.deliver(request),
    log: log.child({ component: "delivery", destination: name }),
    tracer: tracing.tracer,
    concurrency: destination.concurrency,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
    ...(destination.rate_limit !== undefined ? { rateLimit: { max: destination.rate_limit.max, durationMs: destination.rate_limit.duration_ms } } : {}),
    parkAfterIdenticalFailures: env.WORKER_PARK_AFTER_IDENTICAL_FAILURES,
    parkAfterRateLimitedMs: env.WORKER_PARK_AFTER_RATE_LIMITED_MS,
    onAttempt: (outcome, { durationMs, snapshot }) => {
      metrics.attempts.inc({ destination: name, outcome });
      if (outcome === "skipped" || outcome === "returned") return;
      metrics.attemptDuration.observe({ destination: name }, durationMs / 1000);
      if (outcome === "delivered" && snapshot) {
        metrics.endToEnd.observe({ destination: name }, Math.max(0, Date.now() - Date.parse(snapshot.occurred_at)) / 1000);
      }
    },
  });
});

/** Sweeps stalled jobs, applies dead-letter retention, and refreshes the queue gauges. */
async function housekeeping(): Promise<void> {
  for (const queue of queues.all()) {
    const swept = await sweepStalledJobs(queue, store, log);
    if (swept > 0) metrics.stalledSwept.inc({ destination: queue.destination }, swept);
    if (env.DEAD_LETTER_RETENTION_MS > 0) {
      const pruned = await pruneDeadLetters(queue, env.DEAD_LETTER_RETENTION_MS, log);
      if (pruned > 0) metrics.deadLettersPruned.inc({ destination: queue.destination }, pruned);
    }
    const snapshot = await inspectQueue(queue);
    for (const [state, count] of Object.entries(snapshot.counts)) metrics.queueDepth.set({ destination: queue.destination, state }, count);
    metrics.oldestJobAge.set({ destination: queue.destination }, snapshot.oldestWaitingAgeMs / 1000);
    metrics.deadLetters.set({ destination: queue.destination }, snapshot.deadLetters);
    metrics.parked.set({ destination: queue.destination }, snapshot.parked ? 1 : 0);
  }
}
let sweeping = Promise.resolve();
const sweepTimer = setInterval(() => {
  sweeping = housekeeping().catch((error: unknown) => log.error({ err: error }, "housekeeping failed"));
}, env.WORKER_SWEEP_INTERVAL_MS);

const health = createHealthServer({
  registry,
  checks: {
    redis: async () => void (await connection.ping()),
    workers: () => (workers.every((w) => w.isRunning()) ? Promise.resolve() : Promise.reject(new Error("a worker is not running"))),
  },
});
const port = await health.listen(env.PORT);
await housekeeping();
log.info({ port, destinations: served.map(([name]) => name) }, "worker started");

onShutdown(
  async () => {
    health.markShuttingDown();
    clearInterval(sweepTimer);
    const result = await drainWorkers(workers, env.WORKER_DRAIN_TIMEOUT_MS);
    log.info({ result }, "workers drained");
    await sweeping;
    await Promise.all(adapters.map((adapter) => adapter.close()));
    await queues.close();
    await connection.quit();
    await tracing.shutdown();
    await health.close();
  },
  { log, timeoutMs: env.WORKER_DRAIN_TIMEOUT_MS + 4000 },
);
