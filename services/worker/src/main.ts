import { createAdapter, createEnricher, type ResolvedDestination } from "@handoff-sync/adapters";
import { otlpTracesEndpoint, redisOptions, type LoadedConfig } from "@handoff-sync/config";
import {
  createDeliveryQueues,
  createDeliveryWorker,
  inspectQueue,
  pruneDeadLetters,
  sweepStalledJobs,
} from "@handoff-sync/queue";
import type { HandoffSnapshot } from "@handoff-sync/schema";
import { createEnrichmentCache, createHandoffStore } from "@handoff-sync/store";
import {
  createDeliveryMetrics,
  createHealthServer,
  createLogger,
  createRegistry,
  exitOnFatal,
  onShutdown,
  startTracing,
} from "@handoff-sync/telemetry";
import { Redis } from "ioredis";
import { loadWorkerConfig, watchWorkerConfig } from "./config.js";
import { deliveryPath, requestBudgetOf } from "./batched-deliver.js";
import { createEnrichmentHook } from "./enrichment-hook.js";
import { createWorkerSet } from "./worker-set.js";

const { env, destinations: config } = await loadWorkerConfig();
const log = createLogger({ level: env.LOG_LEVEL, service: "worker", redact: env.LOG_REDACT_PATHS });
exitOnFatal(log);
const tracesEndpoint = otlpTracesEndpoint(env);
const tracing = startTracing({
  service: "worker",
  ...(tracesEndpoint === undefined ? {} : { endpoint: tracesEndpoint }),
});

// BullMQ workers block on Redis: they need maxRetriesPerRequest null.
const connection = new Redis(env.REDIS_URL, { ...(await redisOptions(env)), maxRetriesPerRequest: null });
connection.on("error", (error) => log.error({ err: error }, "redis error"));
const store = createHandoffStore({
  redis: connection,
  prefix: env.REDIS_PREFIX,
  retentionMs: env.HANDOFF_RETENTION_MS,
});
const registry = createRegistry("worker");
const metrics = createDeliveryMetrics(registry);

const servedOf = (loaded: LoadedConfig): Record<string, ResolvedDestination> =>
  Object.fromEntries(
    Object.entries(loaded.destinations).filter(
      ([name]) => env.WORKER_DESTINATIONS.length === 0 || env.WORKER_DESTINATIONS.includes(name),
    ),
  );
const policies = (destinations: Record<string, ResolvedDestination>) =>
  Object.fromEntries(Object.entries(destinations).map(([name, d]) => [name, d.retry]));
// Every destination gets a queue, served here or not: a deadline fallback may be served by another worker.
const queues = createDeliveryQueues({
  connection,
  prefix: env.REDIS_PREFIX,
  destinations: policies(config.destinations),
});
const proxy = {
  ...(env.HTTPS_PROXY !== undefined ? { httpsProxy: env.HTTPS_PROXY } : {}),
  ...(env.HTTP_PROXY !== undefined ? { httpProxy: env.HTTP_PROXY } : {}),
  ...(env.NO_PROXY !== undefined ? { noProxy: env.NO_PROXY } : {}),
};
const enrichmentCache = createEnrichmentCache({
  redis: connection,
  prefix: env.REDIS_PREFIX,
  retentionMs: env.HANDOFF_RETENTION_MS,
});
const enrichment = createEnrichmentHook(
  (settings) => createEnricher({ enrichment: settings, cache: enrichmentCache, proxy }),
  log,
);
enrichment.configure(config.source.enrichment);
/** A delivery past its deadline is handed to the fallback destination (e.g. a callback task) instead of the dead-letter queue. */
const expiredTo =
  (fallback: string) =>
  async (snapshot: HandoffSnapshot): Promise<boolean> => {
    await queues.enqueue(fallback, {
      v: 1,
      key: snapshot.key,
      version: snapshot.version,
      event_id: snapshot.history.at(-1)?.event_id ?? `v${snapshot.version}`,
      occurred_at: snapshot.occurred_at,
      enqueued_at: new Date().toISOString(),
    });
    return true;
  };
const startWorker = (name: string, destination: ResolvedDestination) => {
  const budget = destination.budget === undefined ? undefined : requestBudgetOf(destination.budget);
  const adapter = createAdapter(name, destination, {
    proxy,
    onUsage: (usage) => {
      budget?.observe(usage);
      if (usage.window !== undefined) {
        metrics.apiRequestsUsed.set(
          { destination: name, window: "window" },
          usage.window.max - usage.window.remaining,
        );
        metrics.apiRequestsRemaining.set({ destination: name, window: "window" }, usage.window.remaining);
      }
      if (usage.daily !== undefined) {
        metrics.apiRequestsUsed.set({ destination: name, window: "day" }, usage.daily.used);
        metrics.apiRequestsRemaining.set(
          { destination: name, window: "day" },
          Math.max(0, usage.daily.max - usage.daily.used),
        );
      }
    },
  });
  const path = deliveryPath(adapter, destination, {
    onBatch: (size) => metrics.batchSize.observe({ destination: name }, size),
    ...(budget === undefined ? {} : { budget }),
  });
  const worker = createDeliveryWorker({
    queue: queues.get(name),
    connection,
    store,
    deliver: path.deliver,
    enrich: (snapshot, signal) => enrichment.enrich(snapshot, signal),
    log: log.child({ component: "delivery", destination: name }),
    tracer: tracing.tracer,
    concurrency: path.concurrency,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    requestTimeoutMs: destination.timeout_ms,
    writeSettleMs: env.WORKER_WRITE_SETTLE_MS,
    maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
    stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
    ...(destination.rate_limit !== undefined
      ? { rateLimit: { max: destination.rate_limit.max, durationMs: destination.rate_limit.duration_ms } }
      : {}),
    ...(destination.retry.deadline_fallback !== undefined
      ? { onExpired: expiredTo(destination.retry.deadline_fallback) }
      : {}),
    parkAfterIdenticalFailures: env.WORKER_PARK_AFTER_IDENTICAL_FAILURES,
    parkAfterRateLimitedMs: env.WORKER_PARK_AFTER_RATE_LIMITED_MS,
    maxParksPerDelivery: env.WORKER_MAX_PARKS_PER_DELIVERY,
    onAttempt: (outcome, { durationMs, snapshot }) => {
      metrics.attempts.inc({ destination: name, outcome });
      if (outcome === "skipped" || outcome === "returned") return;
      metrics.attemptDuration.observe({ destination: name }, durationMs / 1000);
      if (outcome === "delivered" && snapshot) {
        metrics.endToEnd.observe(
          { destination: name },
          Math.max(0, Date.now() - Date.parse(snapshot.occurred_at)) / 1000,
        );
      }
    },
  });
  return { worker, adapter };
};
const workers = createWorkerSet(startWorker, log);
workers.apply(servedOf(config));

const reloader = watchWorkerConfig(env.HANDOFF_SYNC_CONFIG, {
  log,
  onChange: (next) => {
    const served = servedOf(next);
    // Queues (with their new retry policies) first: a new worker reads its queue's policy when it starts.
    queues.configure(policies(next.destinations));
    enrichment.configure(next.source.enrichment);
    const changes = workers.apply(served);
    log.info({ destinations: workers.names(), ...changes }, "worker configuration applied");
  },
});

/** Sweeps stalled jobs, applies dead-letter retention, and refreshes the queue gauges. */
async function housekeeping(): Promise<void> {
  // Under noeviction, Redis memory is what stops the pipeline when it runs out: report it.
  const [memory, stored] = await Promise.all([
    connection.info("memory"),
    connection.zcard(store.keys.handoffIndex()),
  ]);
  metrics.redisUsedMemory.set(Number(/^used_memory:(\d+)/m.exec(memory)?.[1] ?? 0));
  metrics.redisMaxMemory.set(Number(/^maxmemory:(\d+)/m.exec(memory)?.[1] ?? 0));
  metrics.redisPolicy.reset();
  metrics.redisPolicy.set({ policy: /^maxmemory_policy:(\S+)/m.exec(memory)?.[1] ?? "unknown" }, 1);
  metrics.handoffsStored.set(stored);
  for (const queue of workers.names().map((name) => queues.get(name))) {
    const swept = await sweepStalledJobs(queue, store, log);
    if (swept > 0) metrics.stalledSwept.inc({ destination: queue.destination }, swept);
    if (env.DEAD_LETTER_RETENTION_MS > 0) {
      const pruned = await pruneDeadLetters(queue, env.DEAD_LETTER_RETENTION_MS, log);
      if (pruned > 0) metrics.deadLettersPruned.inc({ destination: queue.destination }, pruned);
    }
    const snapshot = await inspectQueue(queue);
    for (const [state, count] of Object.entries(snapshot.counts))
      metrics.queueDepth.set({ destination: queue.destination, state }, count);
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
    workers: () =>
      workers.workers().every((w) => w.isRunning())
        ? Promise.resolve()
        : Promise.reject(new Error("a worker is not running")),
  },
});
// Registered before anything answers, so a SIGTERM during start-up is handled too.
onShutdown(
  async () => {
    health.markShuttingDown();
    clearInterval(sweepTimer);
    await reloader.stop();
    const result = await workers.drain(env.WORKER_DRAIN_TIMEOUT_MS);
    log.info({ result }, "workers drained");
    await sweeping;
    await enrichment.close();
    await queues.close();
    await connection.quit();
    await tracing.shutdown();
    await health.close();
  },
  { log, timeoutMs: env.WORKER_DRAIN_TIMEOUT_MS + 4000 },
);

const port = await health.listen(env.PORT);
await housekeeping();
log.info({ port, destinations: workers.names() }, "worker started");
