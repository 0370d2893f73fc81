import { createHandoffStore } from "@handoff-sync/store";
import { createLogger, exitOnFatal, onShutdown } from "@handoff-sync/telemetry";
import { Redis } from "ioredis";
import { buildApi } from "./app.js";
import { loadApiEnv } from "./config.js";

const env = loadApiEnv();
const log = createLogger({ level: env.LOG_LEVEL, service: "api" });
exitOnFatal(log);

const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2 });
redis.on("error", (error) => log.error({ err: error }, "redis error"));
const store = createHandoffStore({ redis, prefix: env.REDIS_PREFIX, retentionMs: 0 });
const app = buildApi({ store, log, checks: { redis: async () => void (await redis.ping()) } });
const address = await app.listen({ port: env.PORT, host: env.HOST });
log.info({ address }, "api started");

onShutdown(
  async () => {
    await app.close();
    await redis.quit();
  },
  { log },
);
