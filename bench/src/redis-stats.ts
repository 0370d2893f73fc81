import { Redis } from "ioredis";

/** What Redis has done so far, from `INFO commandstats` and `INFO cpu`. */
export interface RedisCounters {
  /** Calls per command (lower case), since the server started or its stats were reset. */
  readonly calls: Readonly<Record<string, number>>;
  /** used_cpu_user + used_cpu_sys of the server, seconds. */
  readonly cpuSeconds: number;
}

/** Redis work per 1,000 events between two readings. */
export interface RedisCost {
  readonly commandsPer1000: number;
  readonly cpuSecondsPer1000: number;
  /** Calls per 1,000 events by command, the largest first; `info` (the bench's own reading) left out. */
  readonly byCommand: Readonly<Record<string, number>>;
}

/** Calls per command from `INFO commandstats` (`cmdstat_evalsha:calls=12,usec=...`). */
export function parseCommandStats(info: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const [, name, count] = match;
    if (name !== undefined && count !== undefined) calls[name.toLowerCase()] = Number(count);
  }
  return calls;
}

/** The server's CPU seconds (user + system) from `INFO cpu`. */
export function parseRedisCpu(info: string): number {
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return field("used_cpu_user") + field("used_cpu_sys");
}

export async function readRedisCounters(redisUrl: string): Promise<RedisCounters> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    const [commandstats, cpu] = await Promise.all([redis.info("commandstats"), redis.info("cpu")]);
    return { calls: parseCommandStats(commandstats), cpuSeconds: parseRedisCpu(cpu) };
  } finally {
    redis.disconnect();
  }
}

/**
 * The difference of two readings per 1,000 events. It counts every client of the server, so on a
 * shared Redis other work shows up too: read it on a Redis the bench has to itself.
 */
export function redisCostBetween(before: RedisCounters, after: RedisCounters, events: number): RedisCost {
  const per1000 = 1000 / events;
  const byCommand: [string, number][] = [];
  for (const [name, calls] of Object.entries(after.calls)) {
    if (name === "info") continue;
    const delta = calls - (before.calls[name] ?? 0);
    if (delta > 0) byCommand.push([name, delta * per1000]);
  }
  byCommand.sort((a, b) => b[1] - a[1]);
  return {
    commandsPer1000: byCommand.reduce((sum, [, n]) => sum + n, 0),
    cpuSecondsPer1000: (after.cpuSeconds - before.cpuSeconds) * per1000,
    byCommand: Object.fromEntries(byCommand),
  };
}
