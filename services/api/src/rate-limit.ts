/**
 * A token bucket per client name: `burst` requests at once, refilled at `perSecond`. In memory,
 * per api process: with N replicas a key gets up to N times the rate, which bounds a runaway
 * producer without a Redis round trip on every request. Pure apart from the clock passed in.
 */
export interface RateLimiter {
  /** 0 when the request may pass (and is counted), else the milliseconds until it would. */
  take(client: string, nowMs: number): number;
}

export function createRateLimiter(settings: {
  readonly perSecond: number;
  readonly burst: number;
  /** Buckets kept at most; the longest idle are dropped first (a dropped bucket is full again). */
  readonly maxClients?: number;
}): RateLimiter {
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
