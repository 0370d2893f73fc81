import type { RedisClient } from "./redis-client.js";
import { z } from "zod";
import { createKeyLayout } from "./keys.js";

const CachedSchema = z.object({ version: z.int().min(1), data: z.record(z.string(), z.unknown()) });

/** Upstream data fetched for one version of a handoff, shared by every worker and destination. */
export interface EnrichmentCache {
  get(key: string, version: number): Promise<Record<string, unknown> | undefined>;
  set(key: string, version: number, data: Record<string, unknown>): Promise<void>;
}

export interface EnrichmentCacheSettings {
  readonly redis: RedisClient;
  readonly prefix: string;
  /** The handoff retention: the cached data holds personal data and must not outlive the handoff. */
  readonly retentionMs: number;
}

/**
 * One key per handoff under its hash tag, holding the latest version fetched: a new version of
 * the handoff misses and refetches, so the CRM never gets upstream data older than the event
 * that triggered the delivery. `erase` removes it with the rest of the handoff.
 */
export function createEnrichmentCache(settings: EnrichmentCacheSettings): EnrichmentCache {
  const keys = createKeyLayout(settings.prefix);
  return {
    async get(key, version) {
      const json = await settings.redis.get(keys.enrichment(key));
      if (json === null) return undefined;
      let raw: unknown;
      try {
        raw = JSON.parse(json);
      } catch {
        return undefined;
      }
      const parsed = CachedSchema.safeParse(raw);
      return parsed.success && parsed.data.version === version ? parsed.data.data : undefined;
    },
    async set(key, version, data) {
      const value = JSON.stringify({ version, data });
      if (settings.retentionMs > 0)
        await settings.redis.set(keys.enrichment(key), value, "PX", settings.retentionMs);
      else await settings.redis.set(keys.enrichment(key), value);
    },
  };
}
