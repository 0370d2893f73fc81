import { createAdapter } from "@handoff-sync/adapters";
import { createDeliveryQueues, createDeliveryWorker } from "@handoff-sync/queue";
import { createHandoffStore } from "@handoff-sync/store";
import { createHealthServer, createLogger, createRegistry, exitOnFatal, onShutdown } from "@handoff-sync/telemetry";
import { Redis } from "ioredis";
import { loadWorkerConfig } from "./config.js";
import { drainWorkers } from "./drain.js";

const { env, destinations: config } = await loadWorkerConfig();
const log = createLogger({ level: env.LOG_LEVEL, service: "worker" });
exitOnFatal(log);

// BullMQ workers block on Redis: they need maxRetriesPerRequest null.
const connection = new Redis(env.REDIS_URL, { maxRetriesPerRequest: null });
connection.on("error", (error) => log.error({ err: error }, "redis error"));
const store = createHandoffStore({ redis: connection, prefix: env.REDIS_PREFIX, retentionMs: 0 });

const served = Object.entries(config.destinations).filter(
  ([name]) => env.WORKER_DESTINATIONS.length === 0 || env.WORKER_DESTINATIONS.includes(name),
);
const queues = createDeliveryQueues({
  connection,
  prefix: env.REDIS_PREFIX,
  destinations: Object.fromEntries(served.map(([name, d]) => [name, d.retry])),
});
const workers = served.map(([name, destination]) => {
  const adapter = createAdapter(name, destination);
  return createDeliveryWorker({
    queue: queues.get(name),
    connection,
    store,
    deliver: (request) => adapter.deliver(request),
    log: log.child({ component: "delivery", destination: name }),
    concurrency: destination.concurrency,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
  });
});

const health = createHealthServer({
  registry: createRegistry("worker"),
  checks: {
    redis: async () => void (await connection.ping()),
    workers: () => (workers.every((w) => w.isRunning()) ? Promise.resolve() : Promise.reject(new Error("a worker is not running"))),
  },
});
const port = await health.listen(env.PORT);
log.info({ port, destinations: served.map(([name]) => name) }, "worker started");

onShutdown(
  async () => {
    health.markShuttingDown();
    const result = await drainWorkers(workers, env.WORKER_DRAIN_TIMEOUT_MS);
    log.info({ result }, "workers drained");
    await queues.close();
    await connection.quit();
    await health.close();
  },
  { log, timeoutMs: env.WORKER_DRAIN_TIMEOUT_MS + 4000 },
);
