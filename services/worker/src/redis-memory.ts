/** One master's memory figures, from `INFO memory`. */
export interface RedisMemory {
  readonly used: number;
  /** `maxmemory`; 0 means no limit. */
  readonly max: number;
  readonly policy: string;
}

export function parseMemoryInfo(info: string): RedisMemory {
  return {
    used: Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0),
    max: Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0),
    policy: /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? "unknown",
  };
}

/**
 * The master that stops the pipeline first: under noeviction one full shard refuses its writes even
 * when the others have room, so the memory alert must see the fullest, not the sum. Masters
 * without a limit count by bytes used, after every limited one.
 */
export function fullestMaster(masters: readonly RedisMemory[]): RedisMemory {
  const ratio = (m: RedisMemory): number => (m.max > 0 ? m.used / m.max : -1 / (1 + m.used));
  return masters.reduce<RedisMemory>(
    (worst, m) => (ratio(m) > ratio(worst) ? m : worst),
    masters[0] ?? { used: 0, max: 0, policy: "unknown" },
  );
}
