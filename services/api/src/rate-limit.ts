import type { Logger } from "@handoff-sync/telemetry";
import type { ScriptRunner } from "@handoff-sync/store";

/**
 * A token bucket per client name: `burst` requests at once, refilled at `perSecond`. In memory,
 * per api process; pure apart from the clock passed in. The shared limiter below falls back to it.
 */
export interface RateLimiter {
  /** 0 when the request may pass (and is counted), else the milliseconds until it would. */
  take(client: string, nowMs: number): number;
}

export interface RateLimitSettings {
  readonly perSecond: number;
  readonly burst: number;
}

export function createRateLimiter(
  settings: RateLimitSettings & {
    /** Buckets kept at most; the longest idle are dropped first (a dropped bucket is full again). */
    readonly maxClients?: number;
  },
): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxClients = settings.maxClients ?? 10_000;
  return {
    take(client, nowMs) {
      const bucket = buckets.get(client) ?? { tokens: settings.burst, at: nowMs };
      buckets.delete(client);
      const elapsed = Math.max(0, nowMs - bucket.at);
      const tokens = Math.min(settings.burst, bucket.tokens + (elapsed * settings.perSecond) / 1000);
      const next = { tokens, at: nowMs };
      buckets.set(client, next);
      if (buckets.size > maxClients) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
      if (tokens >= 1) {
        next.tokens = tokens - 1;
        return 0;
      }
      return Math.ceil(((1 - tokens) * 1000) / settings.perSecond);
    },
  };
}

/** What the ingestion routes ask before each request. */
export interface IngestRateLimiter {
  /** 0 when the request may pass (and is counted), else the milliseconds until it would. */
  take(client: string): Promise<number>;
}

/**
 * The same bucket in Redis: one single-slot key per client, refilled by the server's clock (TIME),
 * so every api replica draws from one bucket whatever its own clock says. Expires once it would be
 * full again, which is the state an absent key stands for. KEYS[1] bucket; ARGV per second, burst.
 */
const TAKE_TOKEN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
`;

const FALLBACK_NOTICE_MS = 60_000;

/**
 * The ingestion limit across every api replica (a Redis token bucket per API key). When Redis does
 * not answer, each process limits on its own rather than refusing ingestion: Kafka, not Redis, is
 * what an accepted request needs, so a Redis outage must not stop handoffs at the edge.
 */
export function createSharedRateLimiter(deps: {
  readonly scripts: ScriptRunner;
  readonly keyOf: (client: string) => string;
  readonly settings: RateLimitSettings;
  readonly log: Logger;
  readonly now?: () => number;
}): IngestRateLimiter {
  const now = deps.now ?? Date.now;
  const local = createRateLimiter(deps.settings);
  const args = [String(deps.settings.perSecond), String(deps.settings.burst)];
  let noticedAt = -Infinity;
  return {
    async take(client) {
      try {
        return Number(await deps.scripts.run(TAKE_TOKEN, [deps.keyOf(client)], args));
      } catch (error) {
        if (now() - noticedAt >= FALLBACK_NOTICE_MS) {
          noticedAt = now();
          deps.log.warn({ err: error }, "ingestion rate limit is per process while Redis does not answer");
        }
        return local.take(client, now());
      }
    },
  };
}

/** The in-process limiter behind the same interface (`http_ingest.rate_limit.shared: false`). */
export function createLocalIngestRateLimiter(
  settings: RateLimitSettings,
  now: () => number = Date.now,
): IngestRateLimiter {
  const local = createRateLimiter(settings);
  return { take: (client) => Promise.resolve(local.take(client, now())) };
}
