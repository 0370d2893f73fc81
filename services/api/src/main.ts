import { createAdmin, createAuditLog } from "@handoff-sync/admin";
import { httpIngestTopic, kafkaConnectionOptions, redisOptions, redisTopology } from "@handoff-sync/config";
import { createEventProducer, createKafkaClient } from "@handoff-sync/kafka";
import { createDeliveryQueues } from "@handoff-sync/queue";
import { createStateCatalogue } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient, createScriptRunner } from "@handoff-sync/store";
import { createLogger, createRegistry, exitOnFatal, onShutdown } from "@handoff-sync/telemetry";
import { buildApi } from "./app.js";
import { createChatAttempts } from "./chat-attempts.js";
import { loadApiConfig } from "./config.js";
import { createKeyRing, loadApiKeys } from "./key-ring.js";
import { createSharedRateLimiter } from "./rate-limit.js";
import { createSessionStore } from "./sessions.js";

const { env, destinations: config } = await loadApiConfig();
const log = createLogger({ level: env.LOG_LEVEL, service: "api", redact: env.LOG_REDACT_PATHS });
exitOnFatal(log);

const keySources = { env: env.HANDOFF_API_KEYS, file: env.HANDOFF_API_KEYS_FILE };
const keys = await loadApiKeys(keySources);
const keyRing = createKeyRing(keys, keySources, { log, intervalMs: env.HANDOFF_API_KEYS_RELOAD_INTERVAL_MS });
if (keys.length === 0)
  log.warn(
    "no API keys configured (HANDOFF_API_KEYS, HANDOFF_API_KEYS_FILE): every request but health and metrics is refused",
  );

const redis = createRedisClient(redisTopology(env), {
  ...(await redisOptions(env)),
  maxRetriesPerRequest: 2,
});
redis.on("error", (error) => log.error({ err: error }, "redis error"));
// The API reads and erases; it never applies events, so retention plays no part here.
const store = createHandoffStore({
  redis,
  prefix: env.REDIS_PREFIX,
  retentionMs: 0,
  versionFloorRetentionMs: env.HANDOFF_VERSION_FLOOR_RETENTION_MS,
});
const queues = createDeliveryQueues({
  connection: redis,
  prefix: env.REDIS_PREFIX,
  destinations: Object.fromEntries(Object.entries(config.destinations).map(([name, d]) => [name, d.retry])),
});
const kafka =
  env.KAFKA_BROKERS === undefined
    ? undefined
    : createKafkaClient({
        brokers: env.KAFKA_BROKERS,
        clientId: env.KAFKA_CLIENT_ID,
        log,
        ...(await kafkaConnectionOptions(env)),
      });
const audit = createAuditLog({ redis, key: store.keys.audit(), log });
const admin = createAdmin({
  store,
  queues,
  audit,
  log,
  ...(kafka ? { kafka } : {}),
  source: {
    topic: config.source.topic,
    rejectedTopic: config.source.rejected_topic,
    groupId: env.KAFKA_GROUP_ID,
  },
  routing: config,
  rateLimitMax: (destination) => config.destinations[destination]?.rate_limit?.max,
});

const ingestTarget = httpIngestTopic(config);
if ("disabled" in ingestTarget) log.warn({ why: ingestTarget.disabled }, "HTTP ingestion is off");
const producer =
  kafka === undefined
    ? undefined
    : createEventProducer({ kafka, log, timeoutMs: config.http_ingest.produce_timeout_ms });

const app = buildApi({
  admin,
  queues,
  log,
  checks: { redis: async () => void (await redis.ping()) },
  registry: createRegistry("api"),
  keys: keyRing,
  sessions: createSessionStore(redis, (hash) => store.keys.session(hash), env.HANDOFF_API_SESSION_TTL_MS),
  ...(env.HANDOFF_API_ACCOUNT_ID !== undefined && env.HANDOFF_API_PROJECT_ID !== undefined
    ? { account: { accountId: env.HANDOFF_API_ACCOUNT_ID, projectId: env.HANDOFF_API_PROJECT_ID } }
    : {}),
  auth: {
    failureLimit: env.HANDOFF_API_AUTH_FAILURE_LIMIT,
    globalFailureLimit: env.HANDOFF_API_AUTH_GLOBAL_FAILURE_LIMIT,
    failureWindowMs: env.HANDOFF_API_AUTH_FAILURE_WINDOW_MS,
    maxLockoutMs: env.HANDOFF_API_AUTH_MAX_LOCKOUT_MS,
  },
  sessionTtlMs: env.HANDOFF_API_SESSION_TTL_MS,
  secureCookies: env.HANDOFF_API_SECURE_COOKIES,
  trustProxy: env.HANDOFF_API_TRUST_PROXY,
  ingest: {
    target: ingestTarget,
    producer,
    settings: config.http_ingest,
    catalogue: createStateCatalogue(config.states),
    maxMessageBytes: config.source.max_message_bytes,
    limits: config.source.limits,
    chatAttempts: createChatAttempts(
      redis,
      (conversationId) => store.keys.chatAttempt(conversationId),
      config.http_ingest.chat_close.ttl_ms,
    ),
    ...(config.http_ingest.rate_limit.shared
      ? {
          limiter: createSharedRateLimiter({
            scripts: createScriptRunner(redis),
            keyOf: (client) => store.keys.ingestRate(client),
            settings: {
              perSecond: config.http_ingest.rate_limit.per_second,
              burst: config.http_ingest.rate_limit.burst,
            },
            log,
          }),
        }
      : {}),
  },
});
const address = await app.listen({ port: env.PORT, host: env.HOST });
log.info(
  { address, destinations: Object.keys(config.destinations), keys: keys.map((k) => k.name) },
  "api started",
);

onShutdown(
  async () => {
    keyRing.stop();
    await app.close();
    await producer?.close();
    await queues.close();
    await redis.quit();
  },
  { log },
);
