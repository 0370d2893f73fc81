// The audit log alone: the package index would load the admin API and kafkajs with it.
import { createAuditLog } from "@handoff-sync/admin/audit";
import {
  createAdapter,
  createEnricher,
  createOperatorWebhook,
  type ResolvedDestination,
} from "@handoff-sync/adapters";
import { otlpTracesEndpoint, redisOptions, redisTopology, type LoadedConfig } from "@handoff-sync/config";
import {
  createDeliveryQueues,
  createDeliveryWorker,
  createOperatorLoop,
  createRequestBudget,
  inspectQueue,
  pruneDeadLetters,
  sweepStalledJobs,
  type RequestBudget,
} from "@handoff-sync/queue";
import type { HandoffSnapshot } from "@handoff-sync/schema";
import {
  createEnrichmentCache,
  createHandoffStore,
  createRedisClient,
  mastersOf,
  untilReady,
} from "@handoff-sync/store";
import {
  createDeliveryMetrics,
  createHealthServer,
  createLogger,
  createRegistry,
  exitOnFatal,
  onShutdown,
  startTracing,
} from "@handoff-sync/telemetry";
import { loadWorkerConfig, watchWorkerConfig } from "./config.js";
import { deliveryPath, requestBudgetOf } from "./batched-deliver.js";
import { createEnrichmentHook } from "./enrichment-hook.js";
import { fullestMaster, parseMemoryInfo } from "./redis-memory.js";
import { createWorkerSet } from "./worker-set.js";

const { env, destinations: config } = await loadWorkerConfig();
const log = createLogger({ level: env.LOG_LEVEL, service: "worker", redact: env.LOG_REDACT_PATHS });
exitOnFatal(log);
const tracesEndpoint = otlpTracesEndpoint(env);
const tracing = await startTracing({
  service: "worker",
  ...(tracesEndpoint === undefined ? {} : { endpoint: tracesEndpoint }),
});

// BullMQ workers block on Redis: they need maxRetriesPerRequest null.
const connection = createRedisClient(redisTopology(env), {
  ...(await redisOptions(env)),
  maxRetriesPerRequest: null,
});
connection.on("error", (error) => log.error({ err: error }, "redis error"));
// BullMQ's workers start polling at once: on a cluster the slot map must be loaded first.
await untilReady(connection);
// The store's own connection: the deliveries in flight issue their reads and writes independently,
// and auto-pipelining sends those of one tick in one write (per node, so Cluster-safe). BullMQ keeps
// `connection` (and the blocking one it derives) to itself.
const storeConnection = createRedisClient(redisTopology(env), {
  ...(await redisOptions(env)),
  maxRetriesPerRequest: null,
  enableAutoPipelining: true,
});
storeConnection.on("error", (error) => log.error({ err: error }, "redis error"));
await untilReady(storeConnection);
const store = createHandoffStore({
  redis: storeConnection,
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
  stateConnection: storeConnection,
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
/** Each served destination's own authentication check, for probing it while it is parked. */
const checks = new Map<string, () => Promise<void>>();
/** Each served destination's request usage (its budget, or the CRM's usage headers alone), for quota notices. */
const usages = new Map<string, RequestBudget>();
const audit = createAuditLog({ redis: connection, key: store.keys.audit(), log });
const buildOperatorLoop = (loaded: LoadedConfig) => {
  const { operator } = loaded;
  return createOperatorLoop({
    queues: () => workers.names().map((name) => queues.get(name)),
    check: (name) => checks.get(name),
    usage: (name) => usages.get(name)?.snapshot(),
    ...(operator.webhook !== undefined ? { send: createOperatorWebhook(operator.webhook) } : {}),
    audit: async (step) => void (await audit.record({ actor: "probe", ...step })),
    log,
    settings: {
      probeIntervalMs: operator.probe_interval_ms,
      autoResume: operator.auto_resume,
      deadLetterThreshold: {
        count: operator.dead_letter_threshold.count,
        windowMs: operator.dead_letter_threshold.window_ms,
      },
      quotaWarningAfterMs: operator.quota_warning_after_ms,
      quotaWarningShare: operator.quota_warning_share,
    },
  });
};
let operatorLoop = buildOperatorLoop(config);
const startWorker = (name: string, destination: ResolvedDestination) => {
  const budget = destination.budget === undefined ? undefined : requestBudgetOf(destination.budget);
  // Without a configured budget the CRM's usage headers alone still drive the quota notice.
  usages.set(name, budget ?? createRequestBudget({}));
  const adapter = createAdapter(name, destination, {
    proxy,
    onUsage: (usage) => {
      usages.get(name)?.observe(usage);
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
  const check = adapter.check?.bind(adapter);
  if (check !== undefined) checks.set(name, check);
  else checks.delete(name);
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
    claimWithBegin: adapter.readsBeforeWriting !== true,
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
      if (outcome === "dead_lettered")
        operatorLoop
          .deadLettered(queues.get(name))
          .catch((error: unknown) =>
            log.error({ err: error, destination: name }, "dead-letter notice failed"),
          );
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
    operatorLoop = buildOperatorLoop(next);
    restartOperatorTimer(next.operator.watch_interval_ms);
    log.info({ destinations: workers.names(), ...changes }, "worker configuration applied");
  },
});

/** Sweeps stalled jobs, applies dead-letter retention, and refreshes the queue gauges. */
async function housekeeping(): Promise<void> {
  // Under noeviction, Redis memory is what stops the pipeline when it runs out: report it.
  // On a cluster every master is asked: one full shard stops the pipeline on its own.
  const [infos, stored] = await Promise.all([
    Promise.all(mastersOf(connection).map((node) => node.info("memory"))),
    connection.zcard(store.keys.handoffIndex()),
  ]);
  const masters = infos.map(parseMemoryInfo);
  const memory = fullestMaster(masters);
  metrics.redisUsedMemory.set(memory.used);
  metrics.redisMaxMemory.set(memory.max);
  metrics.redisPolicy.reset();
  for (const policy of new Set(masters.map((m) => m.policy))) metrics.redisPolicy.set({ policy }, 1);
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
// Notices and probes: parked, resumed, near quota; a parked destination resumes by itself when its check passes.
let operatorTicking = Promise.resolve();
let operatorBusy = false;
let operatorTimer: NodeJS.Timeout | undefined;
function restartOperatorTimer(intervalMs: number): void {
  clearInterval(operatorTimer);
  operatorTimer = setInterval(() => {
    if (operatorBusy) return;
    operatorBusy = true;
    operatorTicking = operatorLoop
      .tick()
      .catch((error: unknown) => log.error({ err: error }, "operator loop failed"))
      .finally(() => {
        operatorBusy = false;
      });
  }, intervalMs);
}
restartOperatorTimer(config.operator.watch_interval_ms);

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
    clearInterval(operatorTimer);
    await operatorTicking;
    await reloader.stop();
    const result = await workers.drain(env.WORKER_DRAIN_TIMEOUT_MS);
    log.info({ result }, "workers drained");
    await sweeping;
    await enrichment.close();
    await queues.close();
    await connection.quit();
    await storeConnection.quit();
    await tracing.shutdown();
    await health.close();
  },
  { log, timeoutMs: env.WORKER_DRAIN_TIMEOUT_MS + 4000 },
);

const port = await health.listen(env.PORT);
await housekeeping();
log.info({ port, destinations: workers.names() }, "worker started");
